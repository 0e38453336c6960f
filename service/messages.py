"""Turn an outbox row into the Slack message it stands for, from the signal as it is now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.card import signal_card
from blocks.suggestion import settled
from protocol.config import Config
from protocol.sla import ClockState
from service.capture import qualification_of
from service.crm import card_link
from service.extensions import extension_view
from service.views import clock_view, signal_view
from storage.models import Card, Deadline, OutboxMessage, Signal


@dataclass
class Rendered:
    """Text and blocks ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[dict[str, Any]] | None = None


def render_post(session: Session, config: Config, row: OutboxMessage) -> Rendered | None:
    """The message a `slack.post` row sends; None when its signal is gone."""
    payload = row.payload
    if payload.get("render") == "card":
        signal = session.get(Signal, row.signal_id)
        if signal is None:
            return None
        return render_card(session, config, signal, payload["audience"], payload.get("headline"),
                           payload.get("extension"))
    return Rendered(text=payload["text"], blocks=payload.get("blocks"))


def render_card(
    session: Session, config: Config, signal: Signal, audience: str, headline: str | None,
    extension_id: int | None = None,
) -> Rendered:
    """A signal's card for one audience, with its running clocks (an approver's card: with
    the request for more time `extension_id`)."""
    clocks = session.scalars(
        select(Deadline)
        .where(Deadline.signal_id == signal.id, Deadline.token == signal.token)
        .order_by(Deadline.due_at)
    ).all()
    text, blocks = signal_card(signal_view(signal), audience, headline,
                               qualification_of(config, signal), [clock_view(c) for c in clocks],
                               crm_link=card_link(session, signal.id), windows=config.sla,
                               extension=extension_view(session, signal, extension_id))
    return Rendered(text=text, blocks=blocks)


def cards_of(session: Session, signal_id: int) -> list[Card]:
    """Every posted card of a signal, to update in place."""
    return list(session.scalars(select(Card).where(Card.signal_id == signal_id)))


def settled_posts(session: Session, payload: dict[str, Any]) -> list[tuple[str, str, Rendered]]:
    """(channel, ts, message) of each posted suggestion DM of a `slack.settle` row's trigger,
    rewritten without its buttons and with the row's note; those not posted yet are left."""
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.key.startswith(payload["of"], autoescape=True),
        OutboxMessage.kind == "slack.post", OutboxMessage.result_ts.is_not(None)))
    found = []
    for row in rows:
        blocks = settled(row.payload.get("blocks") or [], payload["trigger"], payload["note"])
        if blocks is not None and row.result_channel:
            found.append((row.result_channel, row.result_ts,
                          Rendered(text=row.payload.get("text", ""), blocks=blocks)))
    return found


def still_applies(session: Session, row: OutboxMessage) -> bool:
    """False for a reminder whose clock was met or cancelled after it was queued."""
    if row.guard_deadline_id is None:
        return True
    deadline = session.get(Deadline, row.guard_deadline_id)
    return deadline is not None and deadline.state == ClockState.OPEN
