"""Buttons on the signal card: acknowledge, log contact, nudge, and the ones that open a modal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from blocks import card
from blocks.modal import outcome_modal, reassign_modal, requalify_modal
from bot.services import Services
from protocol import stages
from service import outgoing
from service.signals import NotAllowed, acknowledge, check_owner, log_contact, nudge
from storage.models import Signal
from storage.outbox import enqueue
from storage.queries import signal_for_update

Operation = Callable[..., None]
DIRECT: dict[str, Operation] = {
    card.ACKNOWLEDGE: acknowledge,
    card.LOG_CONTACT: log_contact,
    card.NUDGE: nudge,
}


def register(app: App, services: Services) -> None:
    """One listener per button."""
    for action_id, operation in DIRECT.items():
        app.action(action_id)(_direct(services, operation))
    for action_id, build in _MODALS.items():
        app.action(action_id)(ack=_modal_gate(services, action_id, build), lazy=[_open_modal])


def _direct(services: Services, operation: Operation):
    def press(ack: Ack, body: dict[str, Any], context) -> None:
        with services.unit_of_work() as session:
            signal = signal_for_update(session, context["subject_id"] or 0)
            problem = _apply(services, session, signal, context["actor"], operation)
            if problem:
                enqueue(session, [_answer(body, context["actor"], problem)], services.now())
        ack()
        services.wake()

    return press


def _apply(services: Services, session, signal: Signal | None, actor: str, operation) -> str | None:
    if signal is None:
        return "That signal no longer exists."
    try:
        operation(session, services.config, signal, actor, services.now())
    except (stages.StageError, NotAllowed) as exc:
        return str(exc)
    return None


def _answer(body: dict[str, Any], actor: str, text: str):
    """An ephemeral note where the button was pressed (a DM when it was on App Home)."""
    action_ts = (body.get("actions") or [{}])[0].get("action_ts", "")
    key = f"answer:{actor}:{action_ts}"
    channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get(
        "id"
    )
    if channel:
        return outgoing.ephemeral(key, channel, actor, text)
    return outgoing.notice(key, actor, text)


def _outcome_view(services: Services, session, signal: Signal, actor: str) -> dict[str, Any]:
    stages.check_move("outcome", signal.stage)
    check_owner(session, services.config, signal, actor)
    return outcome_modal(signal.id, signal.account.name)


def _reassign_view(services: Services, session, signal: Signal, actor: str) -> dict[str, Any]:
    stages.check_move("reassign", signal.stage)
    check_owner(session, services.config, signal, actor)
    return reassign_modal(signal.id, signal.account.name)


def _requalify_view(services: Services, session, signal: Signal, actor: str) -> dict[str, Any]:
    stages.check_move("requalify", signal.stage)
    if actor != signal.csm_id and actor not in services.config.admins:
        raise NotAllowed(signal.csm_id)
    answers = {a.criterion: a.met for a in signal.answers}
    return requalify_modal(services.config.rubric, signal.id, signal.account.name, answers)


_MODALS = {
    card.RECORD_OUTCOME: _outcome_view,
    card.REASSIGN: _reassign_view,
    card.REQUALIFY: _requalify_view,
}


def _modal_gate(services: Services, action_id: str, build):
    """Check the press is allowed now; if so the modal opens right after the ack."""

    def gate(ack: Ack, body: dict[str, Any], context) -> None:
        with services.unit_of_work() as session:
            signal = session.get(Signal, context["subject_id"] or 0)
            try:
                if signal is None:
                    raise stages.StageError("That signal no longer exists.")
                context["modal_view"] = build(services, session, signal, context["actor"])
            except (stages.StageError, NotAllowed) as exc:
                enqueue(session, [_answer(body, context["actor"], str(exc))], services.now())
        ack()
        services.wake()

    gate.__name__ = f"gate_{action_id}"
    return gate


def _open_modal(client: WebClient, body: dict[str, Any], context) -> None:
    view = context.get("modal_view")
    if view:
        client.views_open(trigger_id=body["trigger_id"], view=view)
