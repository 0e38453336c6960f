"""Buttons on the signal card: acknowledge, log contact, nudge, and the ones that open a modal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy.orm import Session

from blocks import card
from blocks.modal import (
    extension_modal,
    outcome_modal,
    ownership_modal,
    reassign_modal,
    requalify_modal,
)
from blocks.text import when
from handlers.interaction import ViewBuilder, answer, commit_then_ack, gate_modal, open_modal
from protocol import stages
from protocol.routing import MODEL_LABELS, upgrades
from service import extensions, signals
from service.capture import check_requalify
from service.ownership import check_change
from service.runtime import Runtime
from service.signals import NotAllowed, check_owner
from storage.models import Signal
from storage.outbox import Outgoing
from storage.queries import signal_for_update

Operation = Callable[..., None]  # (session, config, signal, actor, now)
REFUSALS = (stages.StageError, NotAllowed)


def register(app: App) -> None:
    """One listener per button."""
    app.action(card.ACKNOWLEDGE)(acknowledge)
    app.action(card.LOG_CONTACT)(log_contact)
    app.action(card.NUDGE)(nudge)
    app.action(card.RECORD_OUTCOME)(ack=open_outcome, lazy=[open_modal])
    app.action(card.REASSIGN)(ack=open_reassign, lazy=[open_modal])
    app.action(card.REQUALIFY)(ack=open_requalify, lazy=[open_modal])
    app.action(card.CHANGE_MODEL)(ack=open_change_model, lazy=[open_modal])
    app.action(card.ASK_EXTENSION)(ack=open_extension, lazy=[open_modal])
    app.action(card.APPROVE_EXTENSION)(approve_extension)
    app.action(card.DECLINE_EXTENSION)(decline_extension)


def acknowledge(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
                services: Runtime) -> None:
    """The AE acknowledges the hand-off."""
    _press(services, ack, body, actor, subject_id, signals.acknowledge)


def log_contact(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
                services: Runtime) -> None:
    """The AE says the customer was contacted."""
    _press(services, ack, body, actor, subject_id, signals.log_contact)


def nudge(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
          services: Runtime) -> None:
    """A manager (or admin) nudges the AE about an open hand-off, once per press: a replay of
    the same press (Slack's `action_ts`) nudges no one again."""
    press = (body.get("actions") or [{}])[0].get("action_ts")
    _press(services, ack, body, actor, subject_id, signals.nudge, press=press)


def open_outcome(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """Gate and build the outcome modal (opened by `open_modal` after the ack)."""
    gate_modal(services, ack, body, context, _for_signal(_outcome_view), REFUSALS)


def open_reassign(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """Gate and build the reassign modal."""
    gate_modal(services, ack, body, context, _for_signal(_reassign_view), REFUSALS)


def open_requalify(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """Gate and build the update-qualification modal."""
    gate_modal(services, ack, body, context, _for_signal(_requalify_view), REFUSALS)


def open_change_model(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """Gate and build the change-ownership-model modal (the CSM or the acting AE)."""
    gate_modal(services, ack, body, context, _for_signal(_change_model_view), REFUSALS)


def open_extension(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """Gate and build the ask-for-more-time modal (the AE, while contact is on a clock)."""
    gate_modal(services, ack, body, context, _for_signal(_extension_view), REFUSALS)


def approve_extension(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
                      services: Runtime) -> None:
    """The AE's manager (or an admin) grants the new contact date."""
    _answer_extension(services, ack, body, actor, subject_id, approve=True)


def decline_extension(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
                      services: Runtime) -> None:
    """The AE's manager (or an admin) keeps the contact deadline as it is."""
    _answer_extension(services, ack, body, actor, subject_id, approve=False)


def _answer_extension(services: Runtime, ack: Ack, body: dict[str, Any], actor: str,
                      subject_id: int | None, *, approve: bool) -> None:
    block = (body.get("actions") or [{}])[0].get("block_id") or ""
    raw = block.removeprefix(card.EXTENSION_BLOCK)
    extension_id = int(raw) if block.startswith(card.EXTENSION_BLOCK) and raw.isdigit() else 0

    def work(session: Session, now: datetime) -> list[Outgoing]:
        signal = signal_for_update(session, subject_id or 0)
        if signal is None:
            return [answer(body, actor, "That signal no longer exists.")]
        try:
            extensions.decide(session, services.config, signal, extension_id, actor, approve, now)
        except REFUSALS as exc:
            return [answer(body, actor, str(exc))]
        return []

    commit_then_ack(services, ack, work)


def _press(services: Runtime, ack: Ack, body: dict[str, Any], actor: str,
           subject_id: int | None, operation: Operation, **extra: Any) -> None:
    def work(session: Session, now: datetime) -> list[Outgoing]:
        signal = signal_for_update(session, subject_id or 0)
        problem = _apply(services, session, signal, actor, operation, now, **extra)
        return [answer(body, actor, problem)] if problem else []

    commit_then_ack(services, ack, work)


def _apply(services: Runtime, session: Session, signal: Signal | None, actor: str,
           operation: Operation, now: datetime, **extra: Any) -> str | None:
    if signal is None:
        return "That signal no longer exists."
    try:
        operation(session, services.config, signal, actor, now, **extra)
    except REFUSALS as exc:
        return str(exc)
    return None


def _for_signal(build: Callable[[Runtime, Session, Signal, str], dict[str, Any]]) -> ViewBuilder:
    """Adapt a view builder that takes the signal to the gate's (services, session, id, actor)."""

    def build_for(services: Runtime, session: Session, signal_id: int, actor: str) -> dict:
        signal = session.get(Signal, signal_id)
        if signal is None:
            raise stages.StageError("That signal no longer exists.")
        return build(services, session, signal, actor)

    return build_for


def _outcome_view(services: Runtime, session: Session, signal: Signal, actor: str) -> dict:
    check_owner(session, services.config, signal, actor, services.now())
    stages.check_move("outcome", signal.stage)
    return outcome_modal(signal.id, signal.account.name)


def _reassign_view(services: Runtime, session: Session, signal: Signal, actor: str) -> dict:
    check_owner(session, services.config, signal, actor, services.now())
    stages.check_move("reassign", signal.stage)
    return reassign_modal(signal.id, signal.account.name)


def _change_model_view(services: Runtime, session: Session, signal: Signal, actor: str) -> dict:
    check_change(session, services.config, signal, actor)
    choices = [(m.value, MODEL_LABELS[m]) for m in upgrades(signal.ownership)]
    return ownership_modal(signal.id, signal.account.name, MODEL_LABELS[signal.ownership],
                           choices, signal.ae_id)


def _requalify_view(services: Runtime, session: Session, signal: Signal, actor: str) -> dict:
    check_requalify(services.config, signal, actor)
    answers = {a.criterion: a.met for a in signal.answers}
    return requalify_modal(services.config.rubric, signal.id, signal.account.name, answers)


def _extension_view(services: Runtime, session: Session, signal: Signal, actor: str) -> dict:
    deadline = extensions.check_ask(session, services.config, signal, actor, services.now())
    latest = extensions.latest_day(session, services.config, signal, deadline, services.now())
    return extension_modal(signal.id, signal.account.name, when(deadline.due_at), latest)
