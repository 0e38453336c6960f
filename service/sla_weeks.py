"""SLA attainment of weeks of hand-offs: counted from their clocks, or kept once settled.

A week's figures are its acknowledge and contact clocks started in [start, end), per holder
(whoever held the clock when it ran out), SLA policy and clock: how many were counted and how
many of those were met within SLA (`sla_rules`). While the week is not settled they are counted
from the clocks (`ix_deadlines_sla_counts`, the index alone); once it is, the digest keeps them
(`SlaRollupWeek`, `SlaRollup`) the first time it counts the week, in its own unit of work and
once (`INSERT ... ON CONFLICT DO NOTHING` on the week), and every later reader takes the kept
figures instead of the week's clocks.

**Settled.** A week [start, end) is settled at `now` when it ended at least `SETTLE` before
`now` and each of its acknowledge and contact clocks is met, cancelled, or missed with its due
time at least `SETTLE` before `now`. Its figures can then never change, because every write
the protocol makes to a clock is to a running one, and nothing else writes clocks:

- a clock starts when it is written (`service.clocks.add_clock` is given the unit of work's
  `now`: a hand-off, a reassignment, an ownership change): none starts in a week that ended;
- met and cancelled clocks are final: `meet` and `cancel_clocks` take running clocks (open or
  missed) only, and the sweep only claims clocks with a next step (NULL once settled);
- an open clock can still change every figure, so a week with one is not settled: it may be
  met in time or late, or missed; extended (`service.extensions`: the open contact clock
  before it is due), moved to a cover (`service.away`: open clocks only), made due now
  (`service.sweep.owner_unreachable`: open clocks only), or cancelled without escalating
  (a reassignment: it then drops out of the count);
- a missed clock has escalated (its `Escalation` row exists, so it stays counted when it is
  cancelled later), its holder is frozen (cover moves open clocks only) and its due time is
  not moved again; it can still be met, late: at the time of that acknowledgement, which comes
  after its due time, so not within SLA, and it counts as a miss whatever happens next.
  `SETTLE` keeps even a request that read the clock open more than a moment ago, or a replica
  whose clock is a little behind, from meeting it at or before its due time after it was kept.

The week's bounds are part of its key (a change of the configured time zone makes other
weeks), and so is `RULES`: a change to what is counted must bump it, and weeks kept under
other rules are counted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from protocol.sla import ClockState
from storage.bulk import insert_rows
from storage.models import Deadline, Escalation, SlaRollup, SlaRollupWeek
from storage.types import UTCDateTime

RULES = 1  # the counting rules' version (`sla_rules`): bump it when they change
SETTLE = timedelta(days=1)  # a settled week ended, and its missed clocks fell due, this long ago
Bounds = list[tuple[datetime, datetime]]


@dataclass(frozen=True)
class ClockCount:
    """A week's clocks of one kind (`clock`) held by `holder` under `policy`: how many are
    counted, met within SLA, and pending (open, not yet due: not counted)."""

    holder: str | None
    policy: str | None
    clock: str
    met: int
    counted: int
    pending: int = 0


def clock_holder() -> Any:
    """Who a clock counts against: whoever held it when it ran out (`held_by`), else its
    owner."""
    return func.coalesce(Deadline.held_by, Deadline.owner_id)


def sla_rules(start: datetime, end: datetime, now: datetime) -> tuple[Any, Any, list[Any]]:
    """(met within SLA, pending, the clocks counted) for clocks started in [start, end).

    Within SLA: met no later than due. Pending: still open and not yet due (not counted).
    Cancelled clocks (reassigned, closed early) are left out, unless they had already been
    escalated: a miss stays a miss when the signal is reassigned or closed afterwards.
    """
    met = and_(Deadline.state == ClockState.MET, Deadline.met_at <= Deadline.due_at)
    pending = and_(Deadline.state == ClockState.OPEN, Deadline.due_at > now)
    escalated = exists().where(Escalation.deadline_id == Deadline.id)
    counted = [
        Deadline.clock.in_(("ack", "contact")),
        Deadline.started_at >= start, Deadline.started_at < end,
        or_(Deadline.state != ClockState.CANCELLED, escalated),
    ]
    return met, pending, counted


def unsettled(now: datetime) -> Any:
    """A clock that keeps its week from being settled at `now`: open, or missed less than
    `SETTLE` ago."""
    return or_(Deadline.state == ClockState.OPEN,
               and_(Deadline.state == ClockState.MISSED, Deadline.due_at > now - SETTLE))


def count_weeks(
    session: Session, bounds: Bounds, now: datetime, *, owners: list[str] | None = None,
    detail: bool = True, rollups: bool = True, remember: bool = False,
) -> list[list[ClockCount]]:
    """The `ClockCount`s of each week of `bounds` (consecutive or not), in its order: kept
    weeks read in one statement, the others counted from their clocks in one more.

    `owners`: only the clocks those AEs held. `detail`: per holder and policy (else holder
    and policy are None). `rollups`: False counts every week from its clocks and keeps none
    (the figures are the same: tests compare them). `remember`: keep the weeks found settled
    (all holders only; the digest does).
    """
    kept = _kept(session, bounds, owners) if rollups else {}
    live = [i for i in range(len(bounds)) if i not in kept]
    remember = remember and rollups and owners is None
    counted = _count(session, bounds, live, now, owners, detail or remember)
    if remember:
        _keep(session, bounds, counted, now)
    return [kept[i] if i in kept else counted[i][0] for i in range(len(bounds))]


def _kept(session: Session, bounds: Bounds, owners: list[str] | None
          ) -> dict[int, list[ClockCount]]:
    """The kept weeks among `bounds` (index -> their counts): the weeks, then their counts
    (two statements; a week's bounds are read once, not with each of its rows)."""
    index = {pair: i for i, pair in enumerate(bounds)}
    weeks = {week_id: index[(starts, ends)] for week_id, starts, ends in session.execute(
        select(SlaRollupWeek.id, SlaRollupWeek.starts, SlaRollupWeek.ends).where(
            SlaRollupWeek.rules == RULES,
            SlaRollupWeek.starts.in_(sorted({start for start, _ in bounds}))))
        if (starts, ends) in index}  # (not a week of other bounds starting then)
    kept: dict[int, list[ClockCount]] = {i: [] for i in weeks.values()}
    if not weeks:
        return kept
    stmt = select(SlaRollup.week_id, SlaRollup.holder, SlaRollup.policy, SlaRollup.clock,
                  SlaRollup.met, SlaRollup.counted).where(SlaRollup.week_id.in_(sorted(weeks)))
    if owners is not None:
        stmt = stmt.where(SlaRollup.holder.in_(owners))
    for week_id, holder, policy, clock, met, counted in session.execute(stmt):
        kept[weeks[week_id]].append(ClockCount(holder, policy, clock, met, counted))
    return kept


def _count(session: Session, bounds: Bounds, live: list[int], now: datetime,
           owners: list[str] | None, detail: bool) -> dict[int, tuple[list[ClockCount], int]]:
    """The weeks `live` of `bounds` counted from their clocks, in one statement (each week one
    range of `ix_deadlines_sla_counts`): index -> (counts, clocks keeping it unsettled)."""
    counted: dict[int, tuple[list[ClockCount], int]] = {i: ([], 0) for i in live}
    if not live:
        return counted
    weeks = _weeks([(i, *bounds[i]) for i in live])
    met, pending, where = sla_rules(min(bounds[i][0] for i in live),
                                    max(bounds[i][1] for i in live), now)
    # grouped by the columns, not by `clock_holder()`: the planner knows how many values each
    # has (so it hashes the few groups; for an expression it expects a group per row and sorts)
    keys = [Deadline.held_by, Deadline.owner_id, Deadline.policy_name] if detail else \
        [literal(None, String)] * 3
    stmt = (select(weeks.c.i, *keys, Deadline.clock, func.count().filter(met),
                   func.count().filter(pending), func.count(),
                   func.count().filter(unsettled(now)))
            .join_from(weeks, Deadline, and_(Deadline.started_at >= weeks.c.start,
                                             Deadline.started_at < weeks.c.end))
            .where(*where).group_by(weeks.c.i, *(keys if detail else ()), Deadline.clock))
    if owners is not None:
        stmt = stmt.where(clock_holder().in_(owners))
    for i, held_by, owner, policy, clock, met_n, pending_n, total, open_n in \
            session.execute(stmt):
        counts, was_open = counted[i]
        counts.append(ClockCount(held_by or owner, policy, clock, met_n, total - pending_n,
                                 pending_n))
        counted[i] = (counts, was_open + open_n)
    return counted


def _weeks(rows: list[tuple[int, datetime, datetime]]) -> Any:
    """The weeks as rows (i, start, end). Joined to the clocks, each week is one range of
    `ix_deadlines_sla_counts` and the planner knows the groups are few (so it hashes them;
    grouping by a week computed from each clock's start sorted 243k rows at 1M signals)."""
    selects = [select(literal(i).label("i"), literal(start, UTCDateTime()).label("start"),
                      literal(end, UTCDateTime()).label("end"))
               for i, start, end in rows]
    return (union_all(*selects) if len(selects) > 1 else selects[0]).subquery("weeks")


def _keep(session: Session, bounds: Bounds, counted: dict[int, tuple[list[ClockCount], int]],
          now: datetime) -> None:
    """Keep the weeks just counted that are settled: each week once (a week another unit of
    work kept first is left alone, its figures being the same), with its counts."""
    settled = [i for i, (_, open_n) in counted.items()
               if open_n == 0 and bounds[i][1] <= now - SETTLE]
    if not settled:
        return
    weeks = insert_rows(session, SlaRollupWeek.__table__, [
        {"starts": bounds[i][0], "ends": bounds[i][1], "rules": RULES, "rolled_at": now}
        for i in settled], conflict=("starts", "ends", "rules"),
        returning=(SlaRollupWeek.id, SlaRollupWeek.starts, SlaRollupWeek.ends))
    index = {pair: i for i, pair in enumerate(bounds)}
    insert_rows(session, SlaRollup.__table__, [
        {"week_id": week_id, "clock": c.clock, "holder": c.holder, "policy": c.policy,
         "met": c.met, "counted": c.counted}
        for week_id, starts, ends in weeks for c in counted[index[(starts, ends)]][0]])
