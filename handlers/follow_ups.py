"""Submissions of the follow-up modals: outcome, reassign, update qualification, change model."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from blocks import limits
from blocks.modal import (
    EXTENSION_MODAL,
    OUTCOME_MODAL,
    OWNERSHIP_MODAL,
    REASSIGN_MODAL,
    REQUALIFY_MODAL,
)
from handlers.forms import Form
from protocol import stages
from protocol.record import LIMITS, visible
from protocol.routing import upgrades
from service import extensions
from service.capture import update_qualification
from service.ownership import change_ownership
from service.runtime import Runtime
from service.signals import NotAllowed, reassign, record_outcome
from storage.queries import signal_for_update


def register(app: App) -> None:
    """Listen for the follow-up modals."""
    app.view(OUTCOME_MODAL)(submit_outcome)
    app.view(REASSIGN_MODAL)(submit_reassign)
    app.view(REQUALIFY_MODAL)(submit_requalify)
    app.view(OWNERSHIP_MODAL)(submit_change_model)
    app.view(EXTENSION_MODAL)(submit_extension)


def submit_outcome(ack: Ack, view: dict[str, Any], actor: str, subject_id: int | None,
                   services: Runtime) -> None:
    """Won, lost, deferred or not ready: record the outcome."""
    _submit(services, ack, view, actor, subject_id, _outcome)


def submit_reassign(ack: Ack, view: dict[str, Any], actor: str, subject_id: int | None,
                    services: Runtime) -> None:
    """Hand the signal to another AE."""
    _submit(services, ack, view, actor, subject_id, _reassign)


def submit_requalify(ack: Ack, view: dict[str, Any], actor: str, subject_id: int | None,
                     services: Runtime) -> None:
    """Update the qualification checklist."""
    _submit(services, ack, view, actor, subject_id, _requalify)


def submit_change_model(ack: Ack, view: dict[str, Any], actor: str, subject_id: int | None,
                        services: Runtime) -> None:
    """Move the deal up an ownership model."""
    _submit(services, ack, view, actor, subject_id, _change_model)


def submit_extension(ack: Ack, view: dict[str, Any], actor: str, subject_id: int | None,
                     services: Runtime) -> None:
    """Ask the AE's manager for a later contact date."""
    _submit(services, ack, view, actor, subject_id, _extension)


def _submit(services: Runtime, ack: Ack, view: dict[str, Any], actor: str,
            subject_id: int | None, apply) -> None:
    """Validate, apply in one transaction, then ack; problems go next to a field."""
    form = Form(view)
    with services.unit_of_work() as session:
        signal = signal_for_update(session, subject_id or 0)
        try:
            if signal is None:
                raise stages.StageError("That signal no longer exists.")
            errors = apply(services, session, signal, form, actor)
        except (stages.StageError, NotAllowed) as exc:
            errors = {_first_input(view): str(exc)[: limits.FIELD_ERROR]}
        if errors:
            session.rollback()
            return ack(response_action="errors", errors=errors)
    ack()
    services.wake()


def _first_input(view: dict[str, Any]) -> str:
    return next(b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input")


def _outcome(services: Runtime, session, signal, form: Form, actor: str) -> dict[str, str]:
    outcome = form.option("outcome")
    won_arr, revisit = form.amount("won_arr"), form.day("revisit_on")
    errors = form.errors
    now = services.now()
    today = now.astimezone(services.config.timezone).date()
    if outcome not in stages.OUTCOMES:
        errors["outcome"] = "Pick an outcome."
    if outcome == "won" and won_arr is None and "won_arr" not in errors:
        errors["won_arr"] = "How much expansion ARR was won?"
    if outcome == "deferred" and revisit is None and "revisit_on" not in errors:
        errors["revisit_on"] = "When should the CSM revisit it?"
    if revisit is not None and revisit <= today:
        errors["revisit_on"] = "Pick a date after today."
    reason = form.text("reason")
    if reason and len(reason) > LIMITS["reason"]:
        errors["reason"] = f"Keep this under {LIMITS['reason']} characters."
    if errors:
        return errors
    record_outcome(
        session,
        services.config,
        signal,
        outcome,
        actor,
        now,
        reason=reason,
        won_arr=won_arr,
        revisit_on=revisit,
    )
    return {}


def _reassign(services: Runtime, session, signal, form: Form, actor: str) -> dict[str, str]:
    new_ae = form.user("new_ae")
    reason = form.text("reason")
    if not new_ae:
        return {"new_ae": "Pick the AE who takes it."}
    if not reason or not visible(reason):
        return {"reason": "Say why, so the new AE and the CSM know."}
    if len(reason) > LIMITS["reason"]:
        return {"reason": f"Keep this under {LIMITS['reason']} characters (it has {len(reason)})."}
    if new_ae == signal.ae_id:
        return {"new_ae": "This signal is already with them: pick someone else."}
    reassign(session, services.config, signal, new_ae, reason, actor, services.now())
    return {}


def _change_model(services: Runtime, session, signal, form: Form, actor: str
                  ) -> dict[str, str]:
    model, ae, reason = form.option("model"), form.user("ae"), form.text("reason")
    errors = {}
    if model not in {m.value for m in upgrades(signal.ownership)}:
        errors["model"] = "Pick the model the deal moves up to."
    if not (ae or signal.ae_id):
        errors["ae"] = "Pick the AE who takes it."
    if not reason:
        errors["reason"] = "Say why, so the AE and the CSM know."
    elif len(reason) > LIMITS["reason"]:
        errors["reason"] = f"Keep this under {LIMITS['reason']} characters."
    if errors:
        return errors
    change_ownership(session, services.config, signal, model, actor, services.now(),
                     reason=reason, ae_id=ae)
    return {}


def _requalify(services: Runtime, session, signal, form: Form, actor: str) -> dict[str, str]:
    checked = form.checked("qualification")
    answers = {c.key: c.key in checked for c in services.config.rubric.criteria}
    update_qualification(session, services.config, signal, answers, actor, services.now())
    return {}


def _extension(services: Runtime, session, signal, form: Form, actor: str) -> dict[str, str]:
    day, reason = form.day("new_date"), form.text("reason")
    errors = form.errors
    if day is None and "new_date" not in errors:
        errors["new_date"] = "Pick the new contact date."
    if not reason or not visible(reason):
        errors["reason"] = "Say why, so your manager can decide."
    elif len(reason) > LIMITS["reason"]:
        errors["reason"] = f"Keep this under {LIMITS['reason']} characters."
    if errors:
        return errors
    try:
        extensions.ask(session, services.config, signal, actor, day, reason, services.now())
    except extensions.BadDate as exc:
        return {"new_date": str(exc)[: limits.FIELD_ERROR]}
    return {}
