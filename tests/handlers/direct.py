"""Call listeners directly, as Bolt would: Slack-shaped bodies in, what they acked out.

The bodies come from `standin.requests` (the same builders the signed-HTTP tests use), so a
direct test sees exactly the payload Slack sends, without the HTTP round trip.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select

from blocks.modal import Prefill, signal_modal
from handlers import context as request_context
from standin import requests as slack_requests
from standin.forms import state_values
from storage.models import OutboxMessage, Signal
from tests.people import CSM, SECRET
from tests.support import VALID_SIGNAL


class Acks:
    """An `ack` that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple, dict]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append((args, kwargs))

    @property
    def once(self) -> tuple[tuple, dict]:
        """The one call; fails unless there was exactly one."""
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


def body_of(built: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """The body Bolt parses from a request built by `standin.requests`."""
    fields = {k: v[0] for k, v in parse_qs(built[0]).items()}
    return json.loads(fields["payload"]) if "payload" in fields else fields


def context_for(body: dict[str, Any], services) -> dict[str, Any]:
    """The context the request middleware builds (`services`, `actor`, `subject_id`)."""
    context: dict[str, Any] = {}
    request_context.fill(context, body, services)
    return context


def press(action_id: str, value: str | int, user: str, **kw: Any) -> dict[str, Any]:
    """A block_actions body for a button in a DM."""
    kw.setdefault("channel_id", "D0TEST")
    return body_of(slack_requests.block_actions(
        SECRET, user_id=user, action_id=action_id, value=str(value), **kw))


def submission(view: dict[str, Any], user: str, values: dict[str, Any]) -> dict[str, Any]:
    """A view_submission body for `view` filled in with `values`."""
    return body_of(slack_requests.view_submission(
        SECRET, user_id=user, view=view, state_values=state_values(view, values)))


def command(user: str, text: str = "") -> dict[str, Any]:
    """A `/signal` slash command body."""
    return body_of(slack_requests.slash_command(SECRET, user_id=user, text=text))


def outbox(services, kind: str | None = None) -> list[OutboxMessage]:
    """Every outbox row (of `kind`), oldest first."""
    with services.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        return [row for row in rows if kind is None or row.kind == kind]


def only_signal(services) -> Signal:
    """The one signal in the database."""
    with services.unit_of_work() as session:
        return session.scalars(select(Signal)).one()


def capture_view(services) -> dict[str, Any]:
    """The capture modal as the bot builds it, with the id Slack gives an opened view."""
    config = services.config
    view = signal_modal(config.rubric, config.sla, Prefill(metadata={"source": "slash"}))
    return {**view, "id": f"V{uuid.uuid4().hex[:10].upper()}"}


def hand_off(services, **changes: Any) -> Signal:
    """A CSM submits a valid capture modal (through the listener itself): a handed-off signal."""
    from handlers.signal_modal import submit_signal

    body = submission(capture_view(services), CSM, {**VALID_SIGNAL, **changes})
    ack = Acks()
    submit_signal(ack, body["view"], CSM, services)
    assert ack.once == ((), {})
    return only_signal(services)


def gate(listener, action_id: str, value: int, user: str, services) -> dict[str, Any]:
    """Press a button whose listener gates a modal; the context it leaves (`modal_view` when the
    press applies). The press is acked exactly once, empty, either way."""
    body = press(action_id, value, user)
    context = context_for(body, services)
    ack = Acks()
    listener(ack, body, context, services)
    assert ack.once == ((), {})
    return context
