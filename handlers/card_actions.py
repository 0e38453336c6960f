"""Buttons on the signal card: acknowledge, log contact, nudge, and the ones that open a modal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from blocks import card
from blocks.modal import outcome_modal, reassign_modal, requalify_modal
from handlers.interaction import answer, modal_gate, open_modal
from protocol import stages
from service.runtime import Runtime
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
REFUSALS = (stages.StageError, NotAllowed)


def register(app: App, services: Runtime) -> None:
    """One listener per button."""
    for action_id, operation in DIRECT.items():
        app.action(action_id)(_direct(services, operation))
    for action_id, build in _MODALS.items():
        gate = modal_gate(services, _for_signal(services, build), REFUSALS, action_id)
        app.action(action_id)(ack=gate, lazy=[open_modal])


def _direct(services: Runtime, operation: Operation):
    def press(ack: Ack, body: dict[str, Any], context) -> None:
        with services.unit_of_work() as session:
            signal = signal_for_update(session, context["subject_id"] or 0)
            problem = _apply(services, session, signal, context["actor"], operation)
            if problem:
                enqueue(session, [answer(body, context["actor"], problem)], services.now())
        ack()
        services.wake()

    return press


def _apply(services: Runtime, session, signal: Signal | None, actor: str, operation) -> str | None:
    if signal is None:
        return "That signal no longer exists."
    try:
        operation(session, services.config, signal, actor, services.now())
    except REFUSALS as exc:
        return str(exc)
    return None


def _for_signal(services: Runtime, build):
    """Adapt a view builder that takes the signal to the gate's (session, id, actor)."""

    def build_for(session, signal_id: int, actor: str) -> dict[str, Any]:
        signal = session.get(Signal, signal_id)
        if signal is None:
            raise stages.StageError("That signal no longer exists.")
        return build(services, session, signal, actor)

    return build_for


def _outcome_view(services: Runtime, session, signal: Signal, actor: str) -> dict[str, Any]:
    stages.check_move("outcome", signal.stage)
    check_owner(session, services.config, signal, actor)
    return outcome_modal(signal.id, signal.account.name)


def _reassign_view(services: Runtime, session, signal: Signal, actor: str) -> dict[str, Any]:
    stages.check_move("reassign", signal.stage)
    check_owner(session, services.config, signal, actor)
    return reassign_modal(signal.id, signal.account.name)


def _requalify_view(services: Runtime, session, signal: Signal, actor: str) -> dict[str, Any]:
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
