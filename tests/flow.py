"""Helpers for tests that walk signals through the protocol without going through Slack."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from bot.delivery import make_client
from bot.services import Services
from bot.worker import Worker
from protocol.record import SignalDraft
from service import capture
from storage.models import Escalation, OutboxMessage, Signal
from storage.queries import signal_for_update
from tests.people import AE, CSM

ALL_MET = {"budget": True, "buyer": True, "timeline": True, "fit": True}


def draft(**changes) -> SignalDraft:
    values = dict(
        account="Globex Corp",
        category="product",
        kind="seat_utilisation",
        buyer_name="Jamie Reyes",
        timeline="Q3",
        note="Ops team is growing.",
        urgency="hot",
        ae_id=AE,
        answers=dict(ALL_MET),
    )
    values.update(changes)
    return SignalDraft(**values)


def log(services: Services, **changes) -> int:
    """Log (and, when qualified, hand off) a signal now; returns its id."""
    with services.unit_of_work() as session:
        logged = capture.log_signal(session, services.config, draft(**changes), CSM, services.now())
        return logged.signal.id


def act(services: Services, operation, signal_id: int, *args, **kwargs) -> None:
    """`operation(session, config, signal, *args, now, **kwargs)` in its own unit of work."""
    with services.unit_of_work() as session:
        signal = signal_for_update(session, signal_id)
        operation(session, services.config, signal, *args, services.now(), **kwargs)


def worker(services: Services, standin) -> Worker:
    """A worker talking to the stand-in, run by hand (no threads)."""
    return Worker(services, make_client("xoxb-test", standin.base_url))


def escalations(services: Services) -> list[tuple[int, int, str, tuple]]:
    """(signal, level, clock-owner, recipients) of every escalation, in order."""
    with services.unit_of_work() as session:
        rows = session.scalars(select(Escalation).order_by(Escalation.id)).all()
        return [(e.signal_id, e.level, e.ae_id, tuple(e.to_ids["users"])) for e in rows]


def outbox_count(services: Services, prefix: str = "") -> int:
    """How many outbox rows have a key starting with `prefix`."""
    with services.unit_of_work() as session:
        return session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.key.startswith(prefix))
        )


def stage(services: Services, signal_id: int) -> str:
    """The signal's stage now."""
    with services.unit_of_work() as session:
        return session.get(Signal, signal_id).stage


def texts(messages) -> list[str]:
    """The text and block text of stored Slack messages, one string each."""
    return [f"{m['text']} {m.get('blocks')}" for m in messages]


def at(text: str) -> datetime:
    """An aware UTC datetime from ISO text."""
    from datetime import UTC

    return datetime.fromisoformat(text).replace(tzinfo=UTC)
