"""Product-data triggers: what the worker runs, and the figures the weekly digest shows.

Incremental: only accounts on the evaluation queue are looked at (new events, registry
changes, a snooze that ran out, a renewal window that opened); `service.evaluation` decides
what fires and queues the DMs.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, case, cast, delete, exists, func, select
from sqlalchemy.orm import Session

from protocol.config import Config
from protocol.triggers import TriggerState
from service.accounts import queue_evaluation
from service.evaluation import evaluate_accounts
from storage.db import begin_writing, is_postgres
from storage.models import Account, ProductEvent, Signal, Trigger, TriggerQueue

if TYPE_CHECKING:
    from service.runtime import Runtime

__all__ = ["claim", "evaluate_accounts", "periodic", "requeue_due", "trigger_digest",
           "triggers_fired"]
BATCH = 500


def periodic(services: Runtime) -> int:
    """The worker's check: requeue what time made due, then evaluate the queue; accounts seen."""
    config = services.config
    if not config.triggers.enabled:
        return 0
    with services.unit_of_work() as session:
        requeue_due(session, config, services.now())
    total = 0
    while True:
        with services.unit_of_work() as session:
            ids = claim(session, BATCH)
            if ids:
                evaluate_accounts(session, config, ids, services.now())
        total += len(ids)
        if not ids:
            break
    if total:
        services.wake()
    return total


def requeue_due(session: Session, config: Config, now: datetime) -> None:
    """Queue accounts whose renewal window opened, or whose snoozed trigger woke up."""
    rules, today = config.triggers, now.astimezone(config.timezone).date()
    queued = exists().where(TriggerQueue.account_id == Account.id)
    renewal_seen = exists().where(
        Trigger.account_id == Account.id,
        Trigger.kind == "renewal_window",
        Trigger.episode == cast(Account.renewal_date, String),
    )
    renewals = select(Account.id).where(
        Account.renewal_date.between(today + rules.renewal_from, today + rules.renewal_to),
        ~renewal_seen,
        ~queued,
    )
    woken = (
        select(Trigger.account_id)
        .join(Account)
        .where(Trigger.state == TriggerState.SNOOZED, Trigger.snoozed_until <= now, ~queued)
    )
    ids = set(session.scalars(renewals)) | set(session.scalars(woken))
    queue_evaluation(session, ids, now)


def claim(session: Session, limit: int) -> list[int]:
    """Take up to `limit` queue rows' accounts and drop every queue row of theirs we can lock
    (on SQLite: read holding the write lock, so two workers never take the same account)."""
    begin_writing(session)
    stmt = select(TriggerQueue.account_id).order_by(TriggerQueue.id).limit(limit)
    rows = select(TriggerQueue.id)
    if is_postgres(session):
        stmt, rows = stmt.with_for_update(skip_locked=True), rows.with_for_update(skip_locked=True)
    ids = sorted(set(session.scalars(stmt)))
    if ids:
        rows = rows.where(TriggerQueue.account_id.in_(ids))
        session.execute(delete(TriggerQueue).where(TriggerQueue.id.in_(rows)))
    return ids


def triggers_fired(session: Session, start: datetime, end: datetime) -> tuple[dict[str, int], int]:
    """Expansion triggers fired in [start, end) by kind, and how many of all are held back:
    one query on the fired_at index, for the digest's week and the week before."""
    rows = session.execute(
        select(Trigger.kind, func.count(),
               func.coalesce(func.sum(
                   case((Trigger.state == TriggerState.SUPPRESSED, 1), else_=0)), 0))
        .where(Trigger.fired_at >= start, Trigger.fired_at < end)
        .group_by(Trigger.kind)
    )
    fired, held = {}, 0
    for kind, count, suppressed in rows:
        if kind != "at_risk":
            fired[kind] = count
        held += suppressed
    return fired, held


def trigger_digest(session: Session, start: datetime, end: datetime, now: datetime) -> dict:
    """The week's product-data triggers, as figures for the weekly digest (times as aware
    datetimes, money as Decimal)."""
    week = (Trigger.fired_at >= start, Trigger.fired_at < end)
    acted_in_week = (Trigger.updated_at >= start, Trigger.updated_at < end)
    expansion = Trigger.kind != "at_risk"
    fired, held_back = triggers_fired(session, start, end)
    handled = dict(
        session.execute(
            select(Trigger.state, func.count())
            .where(*acted_in_week, expansion)
            .group_by(Trigger.state)
        ).all()
    )
    open_now = session.execute(
        select(func.count(), func.min(Trigger.fired_at))
        .where(Trigger.state == TriggerState.OPEN, expansion)
    ).one()
    from_triggers = Signal.source.like("trigger:%")
    won = session.execute(
        select(func.count(), func.sum(Signal.won_arr)).where(
            from_triggers,
            Signal.outcome == "won",
            Signal.closed_at >= start,
            Signal.closed_at < end,
        )
    ).one()
    reasons = session.execute(
        select(Trigger.reason, func.count())
        .where(*acted_in_week, Trigger.state == TriggerState.DISMISSED)
        .group_by(Trigger.reason)
        .order_by(func.count().desc(), Trigger.reason)
        .limit(5)
    ).all()
    events = session.execute(
        select(func.count(), func.max(ProductEvent.received_at)).where(
            ProductEvent.received_at >= start,
            ProductEvent.received_at < end,
            ProductEvent.type != "account",
        )
    ).one()
    last_event = session.scalar(select(func.max(ProductEvent.received_at)))

    def count(stmt) -> int:
        return session.scalar(stmt) or 0

    return {
        "fired": fired,
        "fired_total": sum(fired.values()),
        "held_back": held_back,
        "risk_notes": count(select(func.count()).where(*week, Trigger.kind == "at_risk")),
        "acted": handled.get(TriggerState.ACTED, 0),
        "snoozed": handled.get(TriggerState.SNOOZED, 0),
        "dismissed": handled.get(TriggerState.DISMISSED, 0),
        "open": open_now[0],
        "oldest_open_since": open_now[1],
        "signals_from_triggers": count(
            select(func.count()).where(
                from_triggers, Signal.created_at >= start, Signal.created_at < end
            )
        ),
        "won_from_triggers": won[0],
        "won_arr": won[1],
        "dismiss_reasons": [{"reason": r or "", "count": n} for r, n in reasons],
        "events_received": events[0],
        "last_event_at": last_event,
        "data_stale_days": (now - last_event).days if last_event else None,
    }
