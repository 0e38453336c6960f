"""Pieces every button listener shares: answer where the press happened, gate a modal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient

from service import outgoing
from service.runtime import Runtime
from storage.outbox import Outgoing, enqueue

ViewBuilder = Callable[[Any, int, str], dict[str, Any]]  # (session, subject id, actor) -> view


def answer(body: dict[str, Any], actor: str, text: str) -> Outgoing:
    """An ephemeral note where the button was pressed (a DM when it was on App Home)."""
    action_ts = (body.get("actions") or [{}])[0].get("action_ts", "")
    key = f"answer:{actor}:{action_ts}"
    container, channel = body.get("container") or {}, body.get("channel") or {}
    where = container.get("channel_id") or channel.get("id")
    if where:
        return outgoing.ephemeral(key, where, actor, text)
    return outgoing.notice(key, actor, text)


def modal_gate(
    services: Runtime, build: ViewBuilder, refusals: tuple[type[Exception], ...], name: str
):
    """An ack function: check the press applies and build the modal, or say why not.

    The view travels to `open_modal` (a lazy listener, after the ack) in the context;
    a refusal is queued as an answer in the same unit of work.
    """

    def gate(ack: Ack, body: dict[str, Any], context) -> None:
        with services.unit_of_work() as session:
            try:
                context["modal_view"] = build(session, context["subject_id"] or 0, context["actor"])
            except refusals as exc:
                enqueue(session, [answer(body, context["actor"], str(exc))], services.now())
        ack()
        services.wake()

    gate.__name__ = f"gate_{name}"
    return gate


def open_modal(client: WebClient, body: dict[str, Any], context) -> None:
    """Open the modal the gate built (trigger ids last 3 s: this runs right after the ack)."""
    view = context.get("modal_view")
    if view:
        client.views_open(trigger_id=body["trigger_id"], view=view)
