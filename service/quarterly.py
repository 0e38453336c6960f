"""The quarterly RevOps review: per-CSM credit and per-AE SLA figures, from what is recorded.

Every figure uses the weekly digest's own definitions (`service.digest`: `sla`,
`escalations`, the outcome and funnel rules) over the quarter instead of a week, so the
quarter's figures are the sums of the weekly digests of its weeks. The review is posted to
`credit.channel` once after each quarter ends (outbox key `quarterly:<2026Q4>`; replicas and
restarts post it once) and printed by `signalbot report quarter`.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from statistics import median
from typing import TextIO

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from blocks.quarterly import review_blocks
from protocol.config import Config
from protocol.credit import (
    AeLine,
    CsmLine,
    Miss,
    Quarter,
    QuarterReview,
    below_floor,
    quarter_of,
    signal_credit,
)
from protocol.routing import Ownership
from protocol.sla import ClockState
from service.digest import escalations, sla
from service.runtime import Runtime
from service.sla_weeks import clock_holder
from storage.models import Account, Deadline, Escalation, OutboxMessage, Person, Signal, SignalEvent
from storage.outbox import Outgoing, enqueue

log = logging.getLogger(__name__)
POST_WINDOW = timedelta(days=7)  # a review not posted within a week of the quarter's end: skip


def quarter_bounds(quarter: Quarter, config: Config) -> tuple[datetime, datetime]:
    """The quarter's first midnight and the next quarter's, in config.timezone, as aware UTC."""
    tz = config.timezone
    start = datetime.combine(quarter.first_day, time(0), tzinfo=tz)
    end = datetime.combine(quarter.next.first_day, time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def compute_review(session: Session, config: Config, quarter: Quarter, start: datetime,
                   end: datetime, now: datetime) -> QuarterReview:
    """Every figure of the review for [start, end) (a quarter, or any span of whole weeks)."""
    csms = csm_lines(session, config, start, end)
    aes = ae_lines(session, config, start, end, now)
    ids = {line.csm_id for line in csms} | {line.ae_id for line in aes if line.ae_id}
    names = dict(session.execute(select(Person.slack_id, Person.name).where(
        Person.slack_id.in_(sorted(ids)), Person.name.is_not(None))).all()) if ids else {}
    return QuarterReview(quarter, start, end, config.credit, csms, aes, names)


def _between(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def csm_lines(session: Session, config: Config, start: datetime, end: datetime
              ) -> list[CsmLine]:
    """Per CSM who logged the signals: logged, qualified, handed off, won, credit, quality."""
    lines: dict[str, CsmLine] = {}
    logged = session.execute(select(
        Signal.csm_id, Signal.handed_off_at, Signal.ae_id, Signal.ownership, Signal.outcome,
    ).where(_between(Signal.created_at, start, end)))
    for csm, handed_off_at, ae, ownership, outcome in logged:
        line = lines.setdefault(csm, CsmLine(csm))
        line.logged += 1
        if handed_off_at is not None:
            line.qualified += 1
            line.routed += 1
            line.routed_won += outcome == "won"
            line.handed_off += ae is not None or ownership == Ownership.CS_LED
    for csm, won, arr in _won(session, Signal.csm_id, start, end):
        line = lines.setdefault(csm, CsmLine(csm))
        line.won, line.won_arr = won, arr
    for line in lines.values():
        line.credit = signal_credit(config.credit, line.won, line.won_arr)
    return sorted(lines.values(), key=lambda x: (-x.won_arr, -x.logged, x.csm_id))


def _won(session: Session, who, start: datetime, end: datetime):
    """(person, won, won ARR) of the signals closed won in [start, end), as the digest counts."""
    recorded = select(SignalEvent.signal_id).where(
        SignalEvent.kind == "outcome", _between(SignalEvent.at, start, end))
    rows = session.execute(select(who, Signal.won_arr).where(
        Signal.id.in_(recorded), _between(Signal.closed_at, start, end),
        Signal.outcome == "won"))
    totals: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for person, arr in rows:
        totals[person][0] += 1
        totals[person][1] += Decimal(arr or 0)
    return [(person, won, arr) for person, (won, arr) in totals.items()]


def ae_lines(session: Session, config: Config, start: datetime, end: datetime,
             now: datetime) -> list[AeLine]:
    """Per AE: hand-offs, ack/contact attainment, escalations, won/lost, median contact time."""
    lines: dict[str | None, AeLine] = {}
    _, _, per_ae = sla(session, start, end, now)
    for row in per_ae:
        line = lines.setdefault(row.ae_id, AeLine(row.ae_id))
        line.ack_met, line.ack_counted = row.ack.met, row.ack.counted
        line.contact_met, line.contact_counted = row.contact.met, row.contact.counted
    for row in escalations(session, start, end).per_ae:
        lines.setdefault(row.ae_id, AeLine(row.ae_id)).escalations = row.escalations
    handoffs = session.execute(select(Deadline.owner_id).where(
        Deadline.clock == "ack", _between(Deadline.started_at, start, end)))
    for (owner,) in handoffs:
        lines.setdefault(owner, AeLine(owner)).handoffs += 1
    _outcomes(session, lines, start, end)
    _contact_times(session, lines, start, end)
    for miss_owner, miss in _misses(session, start, end):
        if miss_owner in lines:
            lines[miss_owner].misses.append(miss)
    for line in lines.values():
        line.flagged = below_floor(line, config.credit.attainment_floor)
    return sorted(lines.values(), key=lambda x: (not x.flagged, -x.handoffs, x.ae_id or ""))


def _outcomes(session: Session, lines: dict, start: datetime, end: datetime) -> None:
    recorded = select(SignalEvent.signal_id).where(
        SignalEvent.kind == "outcome", _between(SignalEvent.at, start, end))
    rows = session.execute(select(Signal.ae_id, Signal.outcome).where(
        Signal.id.in_(recorded), _between(Signal.closed_at, start, end),
        Signal.outcome.in_(("won", "lost")), Signal.ae_id.is_not(None)))
    for ae, outcome in rows:
        line = lines.setdefault(ae, AeLine(ae))
        if outcome == "won":
            line.won += 1
        else:
            line.lost += 1


def _contact_times(session: Session, lines: dict, start: datetime, end: datetime) -> None:
    rows = session.execute(select(Signal.ae_id, Signal.handed_off_at, Signal.contacted_at).where(
        _between(Signal.contacted_at, start, end), Signal.handed_off_at.is_not(None),
        Signal.ae_id.is_not(None)))
    waits: dict[str, list[float]] = defaultdict(list)
    for ae, handed_off_at, contacted_at in rows:
        waits[ae].append(max(0.0, (contacted_at - handed_off_at).total_seconds()))
    for ae, seconds in waits.items():
        lines.setdefault(ae, AeLine(ae)).median_contact_s = float(median(seconds))


def _misses(session: Session, start: datetime, end: datetime):
    """The ack/contact clocks started in [start, end) that were missed or met late, by whoever
    held them (the AE, or their cover while they were away)."""
    escalated = exists().where(Escalation.deadline_id == Deadline.id)
    late = and_(Deadline.state == ClockState.MET, Deadline.met_at > Deadline.due_at)
    rows = session.execute(
        select(clock_holder(), Deadline.signal_id, Account.name, Deadline.clock,
               Deadline.due_at, Deadline.met_at)
        .join(Signal, Signal.id == Deadline.signal_id).join(Account)
        .where(Deadline.clock.in_(("ack", "contact")),
               _between(Deadline.started_at, start, end),
               or_(Deadline.state == ClockState.MISSED, late,
                   and_(Deadline.state == ClockState.CANCELLED, escalated)))
        .order_by(Deadline.due_at))
    for owner, signal_id, account, clock, due_at, met_at in rows:
        yield owner, Miss(signal_id, account, clock, due_at,
                          met_at if met_at and met_at > due_at else None)


# -- posting --------------------------------------------------------------------------------


def build_review(services: Runtime, quarter: Quarter) -> QuarterReview:
    """The review of `quarter`, as of now."""
    start, end = quarter_bounds(quarter, services.config)
    with services.unit_of_work() as session:
        return compute_review(session, services.config, quarter, start, end, services.now())


def post_review(services: Runtime, quarter: Quarter) -> str | None:
    """Queue the review's post to `credit.channel` (once per quarter); returns its key."""
    config = services.config
    if not config.credit.channel:
        return None
    key = f"quarterly:{quarter.label}"
    now = services.now()
    start, end = quarter_bounds(quarter, config)
    with services.unit_of_work() as session:
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)):
            return None
        text, blocks = review_blocks(compute_review(session, config, quarter, start, end, now))
        enqueue(session, [Outgoing(key=key, kind="slack.post", target=config.credit.channel,
                                   payload={"text": text, "blocks": blocks})], now)
    services.wake()
    return key


def enqueue_quarterly_review(services: Runtime) -> bool:
    """A periodic check: in the week after a quarter ends (from the digest's time of day on
    its first day), queue that quarter's review once. Errors are logged; the next sweep
    tries again."""
    config, now = services.config, services.now()
    if not config.credit.channel:
        return False
    current = quarter_of(now.astimezone(config.timezone).date())
    ended = current.previous
    due = datetime.combine(current.first_day, config.digest_time, tzinfo=config.timezone)
    if not due <= now < due + POST_WINDOW:
        return False
    try:
        return post_review(services, ended) is not None
    except Exception:  # noqa: BLE001 - retried on the next sweep
        log.exception("quarterly review could not be queued; the next sweep tries again")
        return False


# -- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ("quarter", "role", "slack_id", "name", "logged", "qualified", "handed_off", "won",
               "lost", "won_arr", "signal_credit", "signal_quality", "handoffs", "ack_met",
               "ack_decided", "ack_attainment", "contact_met", "contact_decided",
               "contact_attainment", "escalations", "median_hours_to_contact", "flagged",
               "misses")


def write_review_csv(review: QuarterReview, out: TextIO) -> int:
    """One row per CSM (role csm) and per AE (role ae); columns in README. Returns rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    label = review.quarter.label
    for c in review.csms:
        writer.writerow([label, "csm", c.csm_id, review.people.get(c.csm_id, ""), c.logged,
                         c.qualified, c.handed_off, c.won, "", f"{c.won_arr:.2f}",
                         f"{c.credit:.2f}", _share(c.quality), *[""] * 11])
    for a in review.aes:
        hours = "" if a.median_contact_s is None else f"{a.median_contact_s / 3600:.2f}"
        misses = "; ".join(f"#{m.signal_id} {m.clock} due {m.due_at.isoformat()}"
                           + (f" met {m.met_at.isoformat()}" if m.met_at else " missed")
                           for m in a.misses)
        writer.writerow([label, "ae", a.ae_id or "", review.people.get(a.ae_id or "", ""),
                         "", "", "", a.won, a.lost, "", "", "", a.handoffs, a.ack_met,
                         a.ack_counted, _share(a.ack_attainment), a.contact_met,
                         a.contact_counted, _share(a.contact_attainment), a.escalations, hours,
                         "yes" if a.flagged else "no", misses])
    return len(review.csms) + len(review.aes)


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
