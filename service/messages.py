"""Turn an outbox row into the Slack message it stands for, from the signal as it is now."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from blocks.card import signal_card
from blocks.suggestion import settled
from protocol.config import Config
from protocol.extension import ExtensionState
from protocol.qualification import Qualification, evaluate
from protocol.sla import ClockState
from service.capture import qualification_of
from service.crm import card_links
from service.extensions import extension_view
from service.views import clock_view, signal_view
from storage.lists import in_list
from storage.models import Card, Deadline, Extension, OutboxMessage, QualificationAnswer, Signal
from storage.outbox import POST_KIND


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
    return _CardData.load(session, [signal]).render(session, config, signal, audience,
                                                     headline, extension_id)


# The statements a claim's rendering runs, built once (parameter: ids).
_OPEN_CLOCKS = select(Deadline.id).where(in_list(Deadline.id, "ids"),
                                         Deadline.state == ClockState.OPEN.value)
_SIGNALS = select(Signal).where(in_list(Signal.id, "ids"))
_ANSWERS = select(QualificationAnswer.signal_id, QualificationAnswer.criterion,
                  QualificationAnswer.met).where(in_list(QualificationAnswer.signal_id, "ids"))
# each signal's clocks of its current hand-off (its token), soonest first
_CLOCKS = (select(Deadline).join(Signal, Signal.id == Deadline.signal_id)
           .where(in_list(Deadline.signal_id, "ids"), Deadline.token == Signal.token)
           .order_by(Deadline.due_at))
_ASKING = select(Extension.signal_id).where(in_list(Extension.signal_id, "ids"),
                                            Extension.state == ExtensionState.PENDING.value)


def render_posts(session: Session, config: Config, rows: Sequence[Row[Any]],
                 ) -> dict[int, Rendered | None]:
    """What each `slack.post` row of `rows` (outbox rows as claimed) sends now, read with a
    few statements for the whole lot rather than several per row. None: skip it (a reminder
    whose clock was met or cancelled after it was queued, or a card whose signal is gone)."""
    posts = [row for row in rows if row.kind == POST_KIND]
    guards = {r.guard_deadline_id for r in posts} - {None}
    open_guards = set(session.scalars(_OPEN_CLOCKS, {"ids": list(guards)})) if guards else set()
    ids = {r.signal_id for r in posts if r.payload.get("render") == "card"}
    signals = {s.id: s for s in session.scalars(_SIGNALS, {"ids": list(ids)})} if ids else {}
    cards = _CardData.load(session, signals.values(), with_answers=True)
    rendered: dict[int, Rendered | None] = {}
    for row in posts:
        payload = row.payload
        if row.guard_deadline_id is not None and row.guard_deadline_id not in open_guards:
            rendered[row.id] = None
        elif payload.get("render") != "card":
            rendered[row.id] = Rendered(text=payload["text"], blocks=payload.get("blocks"))
        elif (signal := signals.get(row.signal_id)) is None:
            rendered[row.id] = None
        else:
            rendered[row.id] = cards.render(session, config, signal, payload["audience"],
                                            payload.get("headline"), payload.get("extension"))
    return rendered


@dataclass
class _CardData:
    """What the cards of several signals show beside the signal, each kind in one statement."""

    clocks: dict[int, list[Deadline]]
    links: dict[int, str | None]
    asking: set[int]  # signals with a request for more time waiting
    # each signal's checklist, read as plain rows (None: from `signal.answers`, which may
    # hold changes of the caller's unit of work not flushed yet)
    answers: dict[int, dict[str, bool]] | None = None

    @classmethod
    def load(cls, session: Session, signals: Collection[Signal],
             with_answers: bool = False) -> _CardData:
        ids = {signal.id for signal in signals}
        if not ids:
            return cls({}, {}, set())
        params = {"ids": list(ids)}
        answers: dict[int, dict[str, bool]] | None = None
        if with_answers:
            answers = {}
            for signal_id, criterion, met in session.execute(_ANSWERS, params):
                answers.setdefault(signal_id, {})[criterion] = met
        clocks: dict[int, list[Deadline]] = {}
        for clock in session.scalars(_CLOCKS, params):
            clocks.setdefault(clock.signal_id, []).append(clock)
        asking = set(session.scalars(_ASKING, params))
        return cls(clocks, card_links(session, ids), asking, answers)

    def render(self, session: Session, config: Config, signal: Signal, audience: str,
               headline: str | None, extension_id: int | None) -> Rendered:
        """`signal`'s card for `audience` (an approver's: with request `extension_id`)."""
        extension = extension_view(session, signal, extension_id) \
            if extension_id is not None or signal.id in self.asking else None
        text, blocks = signal_card(signal_view(signal), audience, headline,
                                   self._qualification(config, signal),
                                   [clock_view(c) for c in self.clocks.get(signal.id, [])],
                                   crm_link=self.links.get(signal.id), windows=config.sla,
                                   extension=extension)
        return Rendered(text=text, blocks=blocks)


    def _qualification(self, config: Config, signal: Signal) -> Qualification:
        if self.answers is None:
            return qualification_of(config, signal)
        return evaluate(config.rubric, self.answers.get(signal.id, {}))


def cards_of(session: Session, signal_id: int) -> list[Card]:
    """Every posted card of a signal, to update in place."""
    return list(session.scalars(select(Card).where(Card.signal_id == signal_id)))


def settled_posts(session: Session, payload: dict[str, Any]) -> list[tuple[str, str, Rendered]]:
    """(channel, ts, message) of each posted suggestion DM of a `slack.settle` row's trigger,
    rewritten without its buttons and with the row's note; those not posted yet are left."""
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.key.startswith(payload["of"], autoescape=True),
        OutboxMessage.kind == POST_KIND, OutboxMessage.result_ts.is_not(None)))
    found = []
    for row in rows:
        blocks = settled(row.payload.get("blocks") or [], payload["trigger"], payload["note"])
        if blocks is not None and row.result_channel:
            found.append((row.result_channel, row.result_ts,
                          Rendered(text=row.payload.get("text", ""), blocks=blocks)))
    return found
