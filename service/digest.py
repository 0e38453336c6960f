"""The weekly digest: what the hand-off protocol did last week, counted by the database.

Every figure is one aggregate query (GROUP BY / COUNT / SUM / CASE) over the signals, their
event log, SLA clocks and escalations, the product-data triggers (`service.triggers`) and the
CRM outbox (`service.crm.records`); no query loads more than a handful of rows. The
digest is posted once a week through the outbox (key `digest:<week start>`, so replicas and
restarts post it once) and can be previewed with `/signal digest` or `signalbot digest`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    extract,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from blocks.digest import digest_blocks, quality_blocks
from protocol.config import Config
from protocol.digest import (
    AeEscalations,
    AeExtensions,
    AeSla,
    CrmSync,
    CsmQuality,
    Digest,
    Escalations,
    Funnel,
    Item,
    Outcomes,
    PolicySla,
    ProductTriggers,
    SignalCounts,
    Stalled,
    Tally,
    TriggerConversion,
    Week,
    WeekSla,
)
from protocol.extension import ExtensionState
from protocol.policy import DEFAULT_POLICY
from protocol.routing import Ownership
from protocol.sla import ClockState
from protocol.stages import OPEN_STAGES
from protocol.triggers import TriggerState
from service.crm.records import crm_problems
from service.roster import roster_gaps
from service.sla_weeks import ClockCount, count_weeks
from service.triggers import trigger_digest, triggers_fired
from storage.db import is_postgres
from storage.models import (
    Account,
    AwayPeriod,
    Deadline,
    Escalation,
    Extension,
    OutboxMessage,
    Person,
    ProductEvent,
    Signal,
    SignalEvent,
    Trigger,
)
from storage.outbox import OutboxStatus, Outgoing, enqueue

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
QUARTER = timedelta(days=90)
ITEMS = 5  # signals named per list (the counts are always complete)
TREND_WEEKS = 8  # weeks of SLA attainment in the digest's trend chart


# -- weeks ----------------------------------------------------------------------------------


def week_bounds(
    now: datetime, config: Config, week_of: date | None = None
) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 in `config.timezone`, as aware UTC.

    With `week_of`, the week holding that date; without it, the last whole week before `now`.
    """
    tz = config.timezone
    if week_of is None:
        today = now.astimezone(tz).date()
        monday = today - timedelta(days=today.weekday() + 7)
    else:
        monday = week_of - timedelta(days=week_of.weekday())
    return _midnight(monday, tz), _midnight(monday + timedelta(days=7), tz)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def scheduled_at(now: datetime, config: Config) -> datetime:
    """When this week's post is due: `digest_weekday` at `digest_time` in config.timezone."""
    _, monday = week_bounds(now, config)
    day = monday.astimezone(config.timezone).date() + timedelta(days=config.digest_weekday)
    return datetime.combine(day, config.digest_time, tzinfo=config.timezone).astimezone(UTC)


# -- the digest -----------------------------------------------------------------------------


def compute_digest(
    session: Session, config: Config, start: datetime, end: datetime, now: datetime, *,
    rollups: bool = True,
) -> Digest:
    """Every figure of the digest for the week [start, end), the week before, and now.

    The SLA figures of the trend's weeks (the week and the week before among them) are
    counted once, per holder and policy; the weeks found settled are kept as they are counted
    (`service.sla_weeks`), in this unit of work, and read from there afterwards. `rollups`:
    False counts every week from its clocks and keeps nothing (the figures are the same).
    """
    if is_postgres(session):
        _plan_for_the_digest(session)
    tz = config.timezone
    first_day = start.astimezone(tz).date()
    previous = week_bounds(now, config, first_day - timedelta(days=7))
    quarter_start = end - QUARTER
    trend_bounds = [*_trend_bounds(config, first_day, now)[:-2], previous, (start, end)]
    trend = sla_by_week(session, trend_bounds, now, per_owner=True, rollups=rollups,
                        remember=rollups)
    digest = Digest(
        week=week_figures(session, start, end, now, trend[-1]),
        previous=compared_figures(session, *previous, trend[-2]),
        first_day=first_day,
        last_day=end.astimezone(tz).date() - timedelta(days=1),
        timezone=tz.key,
        now=now,
        quarter_start=quarter_start,
        **quarter_figures(session, quarter_start, end),
        stalled=stalled(session, config, now),
        outcome_reminder_days=config.outcome_reminder.days,
        triggers=product_triggers(session, start, end, previous, now),
        crm=crm_sync(session, config, start, end),
        sla_weeks=[WeekSla(monday.astimezone(tz).date(), figures.ack, figures.contact)
                   for (monday, _), figures in zip(trend_bounds, trend, strict=True)],
    )
    digest.people = _names(session, _people_in(digest))
    return digest


def _plan_for_the_digest(session: Session) -> None:
    """PostgreSQL settings for the digest's transaction only. No JIT: its largest queries
    take ~0.1 s and compiling them costs more. More memory per aggregate: the SLA counts
    group a week's clocks by holder and policy, columns often NULL (`held_by`, clocks from
    before policies), for which the planner expects a group per clock; within the default
    4 MB it would sort 30k clocks a week instead of hashing the few hundred groups there are
    (39 ms against 20 ms a week at 1M signals)."""
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text("SET LOCAL work_mem = '64MB'"))


def week_figures(session: Session, start: datetime, end: datetime, now: datetime,
                 week_sla: SlaFigures | None = None) -> Week:
    """The figures of the week [start, end); `week_sla`: its SLA figures, when already
    counted (per owner)."""
    sla_figures = week_sla or sla_by_week(session, [(start, end)], now, per_owner=True)[0]
    return Week(
        start=start, end=end, signals=signal_counts(session, start, end),
        ack=sla_figures.ack, contact=sla_figures.contact, per_ae=sla_figures.per_ae,
        per_policy=sla_figures.per_policy, escalations=escalations(session, start, end),
        outcomes=outcomes(session, start, end), funnel=funnel(session, start, end),
        upgrades=ownership_upgrades(session, start, end),
        covered=covered_hand_offs(session, start, end), away=away_in(session, start, end),
        extensions=extensions_per_ae(session, start, end),
    )


def compared_figures(session: Session, start: datetime, end: datetime,
                     week_sla: SlaFigures) -> Week:
    """The figures of the week before that the digest compares the week with: signals logged,
    SLA, escalations (how many, how late), outcomes, ownership upgrades, covered hand-offs.
    Its escalations per AE and still open, funnel, away periods and extensions are left
    empty: the digest shows those of the week only."""
    return Week(
        start=start, end=end, signals=signal_counts(session, start, end), ack=week_sla.ack,
        contact=week_sla.contact, per_ae=week_sla.per_ae, per_policy=week_sla.per_policy,
        escalations=escalation_totals(session, start, end),
        outcomes=outcomes(session, start, end), funnel=Funnel(),
        upgrades=ownership_upgrades(session, start, end),
        covered=covered_hand_offs(session, start, end),
    )


def _between(column: Any, start: datetime, end: datetime) -> Any:
    return and_(column >= start, column < end)


def _count_if(condition: Any) -> Any:
    """How many rows of the group meet `condition` (an aggregate FILTER: PostgreSQL, and
    SQLite since 3.30; cheaper than summing a CASE)."""
    return func.count().filter(condition)


def signal_counts(session: Session, start: datetime, end: datetime) -> SignalCounts:
    """Signals logged in [start, end): by urgency, by category, qualified vs kept watching."""
    rows = session.execute(
        select(Signal.urgency, Signal.category, func.count(),
               _count_if(Signal.handed_off_at.is_not(None)))
        .where(_between(Signal.created_at, start, end))
        .group_by(Signal.urgency, Signal.category)
    )
    counts = SignalCounts()
    for urgency, category, total, qualified in rows:
        counts.total += total
        counts.qualified += qualified
        counts.by_urgency[urgency] = counts.by_urgency.get(urgency, 0) + total
        counts.by_category[category] = counts.by_category.get(category, 0) + total
    counts.watch = counts.total - counts.qualified
    return counts


@dataclass
class SlaFigures:
    """A week's SLA attainment: acknowledge and contact clocks overall, per AE (most hand-offs
    first; only when counted `per_owner`) and per SLA policy (most hand-offs first)."""

    ack: Tally
    contact: Tally
    per_ae: list[AeSla]
    per_policy: list[PolicySla]


def sla(
    session: Session, start: datetime, end: datetime, now: datetime
) -> tuple[Tally, Tally, list[AeSla]]:
    """Acknowledge and contact clocks started in [start, end): overall and per AE (whoever
    held the clock when it ran out: the AE, or their cover while they were away), counted by
    `service.sla_weeks.sla_rules`: within SLA is met no later than due; pending (open, not yet
    due) is not counted; cancelled clocks are left out unless they had escalated."""
    figures = sla_by_week(session, [(start, end)], now, per_owner=True)[0]
    return figures.ack, figures.contact, figures.per_ae


def sla_by_week(
    session: Session, bounds: list[tuple[datetime, datetime]], now: datetime,
    owners: list[str] | None = None, per_owner: bool = False, *, rollups: bool = True,
    remember: bool = False,
) -> list[SlaFigures]:
    """`sla` of each of the weeks `bounds` (`service.sla_weeks.count_weeks`: settled weeks
    from their kept figures, the others from their clocks in one query, grouped by holder
    and policy only when `per_owner` or `remember`: that grouping costs as much again);
    `owners`: only the clocks those AEs held; `remember`: keep the weeks found settled."""
    weeks = count_weeks(session, bounds, now, owners=owners, detail=per_owner,
                        rollups=rollups, remember=remember)
    return [_figures(counts, per_owner) for counts in weeks]


def _figures(counts: list[ClockCount], per_owner: bool) -> SlaFigures:
    """A week's `SlaFigures` from its clock counts."""
    totals: dict[tuple[str, str | None, str], list[int]] = {}  # (kind, key, clock) -> sums
    for c in counts:
        keys = [("all", None, c.clock)]
        if per_owner:  # clocks from before policies ran under the default
            keys += [("ae", c.holder, c.clock), ("policy", c.policy or DEFAULT_POLICY, c.clock)]
        for key in keys:
            sums = totals.setdefault(key, [0, 0, 0])
            sums[0] += c.met
            sums[1] += c.counted
            sums[2] += c.pending

    def tally(kind: str, key: str | None, clock: str) -> Tally:
        return Tally(*totals.get((kind, key, clock), (0, 0, 0)))

    per_ae = [AeSla(who, tally("ae", who, "ack"), tally("ae", who, "contact"))
              for who in {key for kind, key, _ in totals if kind == "ae"}]
    per_policy = [PolicySla(name, tally("policy", name, "ack"), tally("policy", name, "contact"))
                  for name in {key for kind, key, _ in totals if kind == "policy"}]
    return SlaFigures(
        tally("all", None, "ack"), tally("all", None, "contact"),
        sorted(per_ae, key=lambda r: (-(r.ack.counted + r.ack.pending), r.ae_id or "")),
        sorted(per_policy, key=lambda r: (-(r.ack.counted + r.ack.pending), r.policy)))


def _trend_bounds(config: Config, last_monday: date, now: datetime,
                  weeks: int = TREND_WEEKS) -> list[tuple[datetime, datetime]]:
    """The `weeks` weeks ending with the one starting `last_monday`, oldest first."""
    mondays = [last_monday - timedelta(days=7 * back) for back in range(weeks - 1, -1, -1)]
    return [week_bounds(now, config, monday) for monday in mondays]


def sla_weeks(
    session: Session, config: Config, last_monday: date, now: datetime,
    weeks: int = TREND_WEEKS, owners: list[str] | None = None,
) -> list[WeekSla]:
    """SLA attainment per week for the `weeks` weeks ending with the one starting
    `last_monday`, oldest first, counted as `sla` counts a week (kept weeks read, the others
    counted, one query each); `owners`: only those AEs' clocks (a manager's team, an AE),
    else everyone's."""
    bounds = _trend_bounds(config, last_monday, now, weeks)
    figures = sla_by_week(session, bounds, now, owners)
    return [WeekSla(start.astimezone(config.timezone).date(), week.ack, week.contact)
            for (start, _), week in zip(bounds, figures, strict=True)]


def _seconds(session: Session, later: Any, earlier: Any) -> Any:
    if is_postgres(session):
        return extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def escalation_totals(session: Session, start: datetime, end: datetime) -> Escalations:
    """How many escalations were decided in [start, end), and how late (in one query)."""
    late = _seconds(session, Escalation.decided_at, Escalation.due_at)
    total, avg_late, max_late = session.execute(
        select(func.count(), func.avg(late), func.max(late))
        .where(_between(Escalation.decided_at, start, end))
    ).one()
    return Escalations(total=total, avg_late_s=None if avg_late is None else float(avg_late),
                       max_late_s=None if max_late is None else float(max_late))


def escalations(session: Session, start: datetime, end: datetime) -> Escalations:
    """Escalations decided in [start, end): per AE, lateness, and the signals still open."""
    in_week = _between(Escalation.decided_at, start, end)
    totals = escalation_totals(session, start, end)
    is_open = Signal.stage.in_(OPEN_STAGES)
    per_ae = session.execute(
        select(Escalation.ae_id, func.count(), func.count(distinct(Escalation.signal_id)),
               func.count(distinct(case((is_open, Escalation.signal_id)))))
        .join(Signal, Signal.id == Escalation.signal_id)
        .where(in_week)
        .group_by(Escalation.ae_id)
        .order_by(func.count().desc(), Escalation.ae_id)
    )
    escalated = and_(is_open, Signal.id.in_(select(Escalation.signal_id).where(in_week)))
    totals.per_ae = [AeEscalations(*row) for row in per_ae]
    totals.open_signals = _count(session, escalated)
    totals.open_items = _items(session, escalated, Signal.handed_off_at)
    return totals


def outcomes(session: Session, start: datetime, end: datetime) -> Outcomes:
    """Signals closed in [start, end), by outcome, with the ARR won.

    Found through the event log's (kind, at) index: signals.closed_at has no index.
    """
    recorded = select(SignalEvent.signal_id).where(
        SignalEvent.kind == "outcome", _between(SignalEvent.at, start, end))
    rows = session.execute(
        select(Signal.outcome, func.count(), func.coalesce(func.sum(Signal.won_arr), 0))
        .where(Signal.id.in_(recorded), _between(Signal.closed_at, start, end))
        .group_by(Signal.outcome)
    )
    result = Outcomes()
    for outcome, count, arr in rows:
        if outcome in ("won", "lost", "deferred", "not_ready"):
            setattr(result, outcome, count)
        if outcome == "won":
            result.won_arr = Decimal(arr or 0)
    return result


def _funnel_steps() -> list[Any]:
    """The funnel's counts, in `Funnel`'s order: logged, qualified, handed off, acknowledged,
    contacted, won (see `funnel`)."""
    qualified = Signal.handed_off_at.is_not(None)
    owned = and_(qualified, or_(Signal.ae_id.is_not(None), Signal.ownership == Ownership.CS_LED))
    won = Signal.outcome == "won"
    contacted = or_(Signal.contacted_at.is_not(None), won)
    acknowledged = and_(owned, or_(Signal.acknowledged_at.is_not(None), contacted))
    return [func.count(), _count_if(qualified), _count_if(owned), _count_if(acknowledged),
            _count_if(contacted), _count_if(won)]


def funnel(
    session: Session, start: datetime, end: datetime, owners: list[str] | None = None
) -> Funnel:
    """How far the signals logged in [start, end) got, by now.

    Qualified: passed the rubric (handed_off_at set). Handed off: qualified and someone owns
    the close (an AE, or the CSM for CS-led deals); `owners`: only signals handed to those
    AEs. Acknowledged: the owner acknowledged it.
    Contacted: customer contact logged. Each step counts the later ones too (a win was
    contacted, a contact was acknowledged). Won: the outcome.
    """
    stmt = select(*_funnel_steps()).where(_between(Signal.created_at, start, end))
    if owners is not None:  # a manager's team: the signals handed to its AEs
        stmt = stmt.where(Signal.ae_id.in_(owners))
    row = session.execute(stmt).one()
    return Funnel(*row)


def ownership_upgrades(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Ownership models changed in [start, end), as "from>to" -> count (a few rows a week)."""
    rows = session.scalars(select(SignalEvent.detail).where(
        SignalEvent.kind == "ownership_changed", _between(SignalEvent.at, start, end)))
    counts: dict[str, int] = {}
    for detail in rows:
        key = f"{(detail or {}).get('from')}>{(detail or {}).get('to')}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def covered_hand_offs(session: Session, start: datetime, end: datetime) -> int:
    """Signals that went to a cover (or, with no cover, the manager) in [start, end) because
    their AE was away (`covered` events)."""
    return session.scalar(select(func.count(distinct(SignalEvent.signal_id))).where(
        SignalEvent.kind == "covered", _between(SignalEvent.at, start, end))) or 0


def away_in(session: Session, start: datetime, end: datetime,
            limit: int = 20) -> list[tuple[str, str | None]]:
    """(person, cover) of the away periods that overlapped [start, end) (not cancelled)."""
    rows = session.execute(select(AwayPeriod.person_id, AwayPeriod.cover_id).where(
        AwayPeriod.starts < end, AwayPeriod.ends > start,
        or_(AwayPeriod.ended_at.is_(None), AwayPeriod.ended_at > AwayPeriod.starts),
        or_(AwayPeriod.ended_at.is_(None), AwayPeriod.ended_at > start))
        .order_by(AwayPeriod.starts, AwayPeriod.id).limit(limit))
    return [(person, cover) for person, cover in rows]

def quarter_figures(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    """`funnel` and `csm_quality` of [start, end) from one pass over its signals (a quarter is
    a quarter of the year's signals: read once, not twice), as the digest's fields."""
    rows = session.execute(
        select(Signal.csm_id, *_funnel_steps(), _count_if(Signal.closed_at.is_not(None)))
        .where(_between(Signal.created_at, start, end))
        .group_by(Signal.csm_id)
    ).all()
    total = Funnel(*(sum(row[i] for row in rows) for i in range(1, 7)))
    quality = [CsmQuality(csm, routed, won, closed)
               for csm, _, routed, _, _, _, won, closed in rows if routed > 0]
    quality.sort(key=lambda q: (-q.routed, q.csm_id))
    return {"quarter_funnel": total, "csm_quality": quality}


def extensions_per_ae(session: Session, start: datetime, end: datetime) -> list[AeExtensions]:
    """Per AE: requests for more time asked in [start, end), and those granted in it."""
    rows: dict[str | None, AeExtensions] = {}
    asked = session.execute(select(Extension.ae_id, func.count())
                            .where(_between(Extension.asked_at, start, end))
                            .group_by(Extension.ae_id))
    granted = session.execute(select(Extension.ae_id, func.count())
                              .where(Extension.state == ExtensionState.APPROVED,
                                     _between(Extension.decided_at, start, end))
                              .group_by(Extension.ae_id))
    for ae_id, count in asked:
        rows.setdefault(ae_id, AeExtensions(ae_id)).asked = count
    for ae_id, count in granted:
        rows.setdefault(ae_id, AeExtensions(ae_id)).granted = count
    return sorted(rows.values(), key=lambda r: (-r.asked, -r.granted, r.ae_id or ""))


def csm_quality(session: Session, start: datetime, end: datetime) -> list[CsmQuality]:
    """Per CSM, of their signals logged in [start, end) and routed: how many were won."""
    routed = _count_if(Signal.handed_off_at.is_not(None))
    rows = session.execute(
        select(Signal.csm_id, routed, _count_if(Signal.outcome == "won"),
               _count_if(Signal.closed_at.is_not(None)))
        .where(_between(Signal.created_at, start, end))
        .group_by(Signal.csm_id)
        .having(routed > 0)
        .order_by(routed.desc(), Signal.csm_id)
    )
    return [CsmQuality(*row) for row in rows]


def stalled(session: Session, config: Config, now: datetime) -> Stalled:
    """Right now: hand-offs past their ack SLA, contacts with no outcome, overdue watch items."""
    missed_ack = exists().where(
        Deadline.signal_id == Signal.id, Deadline.token == Signal.token,
        Deadline.clock == "ack", Deadline.state == ClockState.MISSED)
    unacked = and_(Signal.stage == "handed_off", missed_ack)
    awaiting = and_(Signal.stage == "contacted",
                    Signal.contacted_at < now - config.outcome_reminder)
    overdue = and_(Signal.stage == "qualifying",
                   Signal.revisit_on < now.astimezone(config.timezone).date())
    held = session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.HELD))
    return Stalled(
        unacknowledged=_count(session, unacked),
        unacknowledged_items=_items(session, unacked, Signal.handed_off_at),
        awaiting_outcome=_count(session, awaiting),
        awaiting_items=_items(session, awaiting, Signal.contacted_at),
        overdue_watch=_count(session, overdue),
        watch_items=_items(session, overdue, Signal.revisit_on),
        roster_gaps=roster_gaps(session, config),
        held=held or 0,
    )


def product_triggers(
    session: Session, start: datetime, end: datetime, previous: tuple[datetime, datetime],
    now: datetime,
) -> ProductTriggers | None:
    """The week's trigger figures, with the week before and the quarter's conversion.

    None for a team without the product-data integration: no trigger and no product event,
    ever (two indexed lookups, so those teams pay nothing more).
    """
    if session.scalar(select(Trigger.id).limit(1)) is None and session.scalar(
            select(ProductEvent.id).limit(1)) is None:
        return None
    week = trigger_digest(session, start, end, now)
    fired_before, held_before = triggers_fired(session, *previous)
    return ProductTriggers(
        fired=dict(week["fired"]),
        fired_before=fired_before,
        held_back=week["held_back"],
        held_back_before=held_before,
        risk_notes=week["risk_notes"],
        acted=week["acted"],
        snoozed=week["snoozed"],
        dismissed=week["dismissed"],
        dismiss_reasons=[(r["reason"], r["count"]) for r in week["dismiss_reasons"]],
        open=week["open"],
        oldest_open_since=week["oldest_open_since"],
        signals=week["signals_from_triggers"],
        won=week["won_from_triggers"],
        won_arr=week["won_arr"] or Decimal(0),
        events_received=week["events_received"],
        last_event_at=week["last_event_at"],
        stale_days=week["data_stale_days"],
        conversion=trigger_conversion(session, end - QUARTER, end),
    )


def trigger_conversion(session: Session, start: datetime, end: datetime) -> list[TriggerConversion]:
    """Per trigger kind, of the triggers fired in [start, end) and put in front of a CSM (not
    held back now): how many became a signal, and how many of those were won, by now.

    A trigger became a signal when a signal's source is `trigger:<its id>`. Signals from
    triggers are first reduced to one row per source (a CSM may log twice from one trigger),
    then joined on the trigger's id written as that source.
    """
    logged = (
        select(Signal.source.label("source"),
               func.max(case((Signal.outcome == "won", 1), else_=0)).label("won"))
        .where(Signal.source.like("trigger:%"))
        .group_by(Signal.source)
        .subquery()
    )
    source = literal("trigger:", String) + cast(Trigger.id, String)
    fired = func.count()
    rows = session.execute(
        select(Trigger.kind, fired, func.count(logged.c.source), _count_if(logged.c.won == 1))
        .outerjoin(logged, logged.c.source == source)
        .where(_between(Trigger.fired_at, start, end), Trigger.kind != "at_risk",
               Trigger.state != TriggerState.SUPPRESSED)
        .group_by(Trigger.kind)
        .order_by(fired.desc(), Trigger.kind)
    )
    return [TriggerConversion(*row) for row in rows]


def crm_sync(session: Session, config: Config, start: datetime, end: datetime) -> CrmSync | None:
    """The week's CRM sync problems; None when there are none and no CRM is configured."""
    problems = crm_problems(session, start, end)
    if not config.crm.enabled and not any(problems.values()):
        return None
    return CrmSync(provider=config.crm.label, **problems)


def _count(session: Session, condition: Any) -> int:
    return session.scalar(select(func.count()).select_from(Signal).where(condition)) or 0


def _items(session: Session, condition: Any, since: Any) -> list[Item]:
    rows = session.execute(
        select(Signal.id, Account.name, Signal.ae_id, Signal.csm_id, Signal.urgency, since)
        .join(Account, Account.id == Signal.account_id)
        .where(condition)
        .order_by(since, Signal.id)
        .limit(ITEMS)
    )
    items = []
    for signal_id, account, ae_id, csm_id, urgency, at in rows:
        item = Item(signal_id, account, ae_id, csm_id, urgency)
        if isinstance(at, datetime):
            item.at = at
        else:
            item.revisit_on = at
        items.append(item)
    return items


def _people_in(digest: Digest) -> set[str]:
    ids = {row.ae_id for row in digest.week.per_ae}
    ids |= {row.ae_id for row in digest.week.escalations.per_ae}
    ids |= {row.ae_id for row in digest.week.extensions}
    ids |= {row.csm_id for row in digest.csm_quality}
    ids |= set(digest.stalled.roster_gaps)
    ids |= {who for pair in digest.week.away for who in pair if who}
    stalled = digest.stalled
    for item in (*digest.week.escalations.open_items, *stalled.unacknowledged_items,
                 *stalled.awaiting_items, *stalled.watch_items):
        ids |= {item.ae_id, item.csm_id}
    return {i for i in ids if i}


def _names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Person.slack_id, Person.name).where(Person.slack_id.in_(sorted(ids)),
                                                   Person.name.is_not(None)))
    return {slack_id: name for slack_id, name in rows}


# -- posting --------------------------------------------------------------------------------


def build_digest(services: Runtime, week_of: date | None = None) -> Digest:
    """The digest of the week holding `week_of` (default: last week), as of now."""
    now = services.now()
    start, end = week_bounds(now, services.config, week_of)
    with services.unit_of_work() as session:
        return compute_digest(session, services.config, start, end, now)


def post_digest(
    services: Runtime, week_of: date | None = None, *, again: bool = False
) -> str | None:
    """Queue the digest post to `digest_channel`, and right after it the CSMs' signal
    quality table (`quality_blocks`; delivered in that order); returns the digest's key.

    None when no channel is configured, or when that week's digest is already queued (or
    sent) and `again` is false. The text and blocks are rendered now, into the payload.
    """
    config = services.config
    if not config.digest_channel:
        return None
    now = services.now()
    start, end = week_bounds(now, config, week_of)
    key = f"digest:{start.astimezone(config.timezone).date().isoformat()}"
    if again:
        key += f":again:{int(now.timestamp())}"
    with services.unit_of_work() as session:
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)):
            return None
        digest = compute_digest(session, config, start, end, now)
        posts = [(key, digest_blocks(digest)), (f"{key}:quality", quality_blocks(digest))]
        enqueue(session, [Outgoing(key=k, kind="slack.post", target=config.digest_channel,
                                   payload={"text": post[0], "blocks": post[1]})
                          for k, post in posts if post is not None], now)
    services.wake()
    return key


def enqueue_weekly_digest(services: Runtime) -> bool:
    """A periodic check (`bot.worker.PERIODIC`): after this week's slot, queue last week's post.

    Idempotent and cheap: before the scheduled moment it does nothing; after it, one lookup
    of the outbox key until the post is queued (ON CONFLICT DO NOTHING settles races between
    replicas). Returns True when this call queued it. Errors are logged, never raised, so a
    broken digest cannot stop the sweep's other checks; the next sweep tries again.
    """
    config, now = services.config, services.now()
    if not config.digest_channel or now < scheduled_at(now, config):
        return False
    try:
        return post_digest(services) is not None
    except Exception:  # noqa: BLE001 - retried on the next sweep
        log.exception("weekly digest could not be queued; the next sweep tries again")
        return False
