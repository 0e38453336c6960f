"""Pieces every listener shares: answer where a press happened, commit-then-ack, gate a modal."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from slack_bolt import Ack
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from service import outgoing
from service.runtime import Runtime
from storage.outbox import Outgoing, enqueue

ViewBuilder = Callable[[Runtime, Session, int, str], dict[str, Any]]  # -> view
Work = Callable[[Session, datetime], Iterable[Outgoing]]


def answer(body: dict[str, Any], actor: str, text: str) -> Outgoing:
    """An ephemeral note where the button was pressed (a DM when it was on App Home)."""
    action_ts = (body.get("actions") or [{}])[0].get("action_ts", "")
    key = f"answer:{actor}:{action_ts}"
    container, channel = body.get("container") or {}, body.get("channel") or {}
    where = container.get("channel_id") or channel.get("id")
    if where:
        return outgoing.ephemeral(key, where, actor, text)
    return outgoing.notice(key, actor, text)


def commit_then_ack(services: Runtime, ack: Ack, work: Work) -> None:
    """The one shape of a state-changing listener: one unit of work runs `work(session, now)`
    and enqueues the messages it returns in the same transaction; after the commit the request
    is acked, then this process's delivery loop is woken."""
    now = services.now()
    with services.unit_of_work() as session:
        enqueue(session, list(work(session, now)), now)
    ack()
    services.wake()


def gate_modal(
    services: Runtime,
    ack: Ack,
    body: dict[str, Any],
    context,
    build: ViewBuilder,
    refusals: tuple[type[Exception], ...],
) -> None:
    """An ack function's body: check the press applies and build the modal, or say why not.

    The view travels to `open_modal` (a lazy listener, after the ack) in the context;
    a refusal is queued as an answer in the same unit of work.
    """
    actor = context["actor"]

    def work(session: Session, _now: datetime) -> list[Outgoing]:
        try:
            context["modal_view"] = build(services, session, context["subject_id"] or 0, actor)
        except refusals as exc:
            return [answer(body, actor, str(exc))]
        return []

    commit_then_ack(services, ack, work)


def open_modal(client: WebClient, body: dict[str, Any], context) -> None:
    """Open the modal the gate built (trigger ids last 3 s: this runs right after the ack)."""
    view = context.get("modal_view")
    if view:
        client.views_open(trigger_id=body["trigger_id"], view=view)
