"""Turn an outbox row into the Slack message it stands for, from the signal as it is now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from blocks.card import signal_card
from blocks.suggestion import settled
from blocks.views import ExtensionView
from protocol.config import Config
from protocol.extension import ExtensionState
from protocol.sla import ClockState
from service.capture import qualification_of
from service.crm import card_link, card_links
from service.extensions import extension_view
from service.views import clock_view, signal_view
from storage.models import Card, Deadline, Extension, OutboxMessage, Signal


@dataclass
class Rendered:
    """Text and blocks ready for chat.postMessage / chat.update."""

    text: str
    blocks: list[dict[str, Any]] | None = None


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
    return _card(config, signal, audience, headline, clocks, card_link(session, signal.id),
                 extension_view(session, signal, extension_id))


def _card(config: Config, signal: Signal, audience: str, headline: str | None,
          clocks: Sequence[Deadline], crm_link: str | None,
          extension: ExtensionView | None) -> Rendered:
    text, blocks = signal_card(signal_view(signal), audience, headline,
                               qualification_of(config, signal), [clock_view(c) for c in clocks],
                               crm_link=crm_link, windows=config.sla, extension=extension)
    return Rendered(text=text, blocks=blocks)


def render_posts(session: Session, config: Config, rows: Sequence[OutboxMessage],
                 ) -> dict[int, Rendered | None]:
    """What each `slack.post` row of `rows` sends now, read with a few statements for the
    whole lot rather than several per row. None: skip it (a reminder whose clock was met or
    cancelled after it was queued, or a card whose signal is gone)."""
    posts = [row for row in rows if row.kind == "slack.post"]
    guards = _by_id(session, Deadline, {r.guard_deadline_id for r in posts} - {None})
    cards = _CardData.load(session, {r.signal_id for r in posts
                                     if r.payload.get("render") == "card"})
    rendered: dict[int, Rendered | None] = {}
    for row in posts:
        guard = guards.get(row.guard_deadline_id)
        if row.guard_deadline_id is not None and (guard is None or guard.state != ClockState.OPEN):
            rendered[row.id] = None
        elif row.payload.get("render") == "card":
            rendered[row.id] = cards.render(session, config, row)
        else:
            rendered[row.id] = Rendered(text=row.payload["text"], blocks=row.payload.get("blocks"))
    return rendered


@dataclass
class _CardData:
    """What the cards of several signals show, each kind read in one statement."""

    signals: dict[int, Signal]
    clocks: dict[int, list[Deadline]]
    links: dict[int, str | None]
    asking: set[int]  # signals with a request for more time waiting

    @classmethod
    def load(cls, session: Session, ids: set[int]) -> _CardData:
        if not ids:
            return cls({}, {}, {}, set())
        signals = {s.id: s for s in session.scalars(
            select(Signal).where(Signal.id.in_(ids)).options(selectinload(Signal.answers)))}
        clocks: dict[int, list[Deadline]] = {}
        for clock in session.scalars(
                select(Deadline).join(Signal, Signal.id == Deadline.signal_id)
                .where(Deadline.signal_id.in_(ids), Deadline.token == Signal.token)
                .order_by(Deadline.due_at)):
            clocks.setdefault(clock.signal_id, []).append(clock)
        asking = set(session.scalars(select(Extension.signal_id).where(
            Extension.signal_id.in_(ids), Extension.state == ExtensionState.PENDING)))
        return cls(signals, clocks, card_links(session, ids), asking)

    def render(self, session: Session, config: Config, row: OutboxMessage) -> Rendered | None:
        """The card a row posts; None when its signal is gone."""
        signal = self.signals.get(row.signal_id)
        if signal is None:
            return None
        wanted = row.payload.get("extension")
        extension = extension_view(session, signal, wanted) \
            if wanted is not None or signal.id in self.asking else None
        return _card(config, signal, row.payload["audience"], row.payload.get("headline"),
                     self.clocks.get(signal.id, []), self.links.get(signal.id), extension)


def _by_id(session: Session, model: Any, ids: set[Any]) -> dict[Any, Any]:
    if not ids:
        return {}
    return {item.id: item for item in session.scalars(select(model).where(model.id.in_(ids)))}


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
