"""App Home: what each person needs, by role, read with small ordered and limited queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from blocks.home import (
    Item,
    Listing,
    admin_blocks,
    ae_blocks,
    away_blocks,
    chart_blocks,
    csm_blocks,
    home_view,
    intro_blocks,
    manager_blocks,
    welcome_blocks,
)
from protocol import stages
from protocol.config import Config
from protocol.digest import Funnel, WeekSla
from protocol.routing import Ownership
from protocol.sla import RUNNING
from service import outgoing
from service.away import away_lines, home_lines
from service.digest import funnel, sla_weeks, week_bounds
from service.roster import roster_gaps
from service.views import clock_view, escalation_view, signal_view
from storage.models import Deadline, Escalation, OutboxMessage, Signal
from storage.outbox import OutboxStatus, Outgoing
from storage.queries import managers

AE_CLOCKS = ("ack", "contact")
PAGE, WATCH_PAGE = 8, 5
RECENTLY_CLOSED = timedelta(days=14)


def render_home(session: Session, config: Config, user_id: str, now: datetime) -> dict[str, Any]:
    """The Home view of `user_id`: a section per role that applies, or a welcome."""
    team = team_of(session, config, user_id)
    mine, covering = home_lines(session, config, user_id, now)
    others = [line for line in away_lines(session, config, now)
              if line.person != user_id and (user_id in config.admins or line.person in team)]
    roster = managers(session, config.managers)
    queue = ae_queue(session, user_id)
    sections = [
        csm_blocks(csm_signals(session, user_id, now), csm_watch(session, user_id), now),
        ae_blocks(queue, ae_watch(session, user_id), now, user_id)
        + chart_blocks(trend(session, config, now, [user_id]), None, "Your"),
    ]
    if team:
        sections.append(manager_blocks(team_breaches(session, team, now), now)
                        + chart_blocks(trend(session, config, now, team),
                                       last_week_funnel(session, config, now, team),
                                       "Your team's"))
    if user_id in config.admins:
        sections.append(admin_blocks(roster_gaps(session, config), held_count(session))
                        + chart_blocks(trend(session, config, now),
                                       last_week_funnel(session, config, now), "Everyone's"))
    if not any(sections) and not mine and not covering:
        return home_view(welcome_blocks())
    offer = user_id in roster or bool(team) or bool(queue.total)  # AEs and managers
    return home_view(intro_blocks(now), away_blocks(mine, covering, offer, others), *sections)


def home_refreshes(session: Session, config: Config, signal: Signal) -> list[Outgoing]:
    """Home re-publications a change to `signal` causes: its CSM, AE (and acting AE), and (if
    escalated) the AE's manager."""
    users = [signal.csm_id, signal.ae_id, signal.acting_ae_id]
    escalated = session.scalar(select(Escalation.id).where(Escalation.signal_id == signal.id)
                               .limit(1))
    if escalated is not None and signal.ae_id:
        users.append(managers(session, config.managers).get(signal.ae_id))
    return [outgoing.home(user) for user in dict.fromkeys(users) if user]


# -- per role ----------------------------------------------------------------------------------


def csm_signals(session: Session, user_id: str, now: datetime, limit: int = PAGE) -> Listing:
    """Hand-offs the CSM logged, open ones first, then those closed lately; newest change first."""
    where = [Signal.csm_id == user_id,
             or_(Signal.stage.in_(stages.WITH_AE), Signal.closed_at >= now - RECENTLY_CLOSED)]
    order = [Signal.closed_at.is_not(None), Signal.updated_at.desc(), Signal.id.desc()]
    return _listing(session, where, order, limit)


def csm_watch(session: Session, user_id: str, limit: int = WATCH_PAGE) -> Listing:
    """The CSM's watch items (not qualified yet), soonest revisit first."""
    where = [Signal.csm_id == user_id, Signal.stage.in_((stages.SIGNAL, stages.QUALIFYING))]
    order = [Signal.revisit_on.is_(None), Signal.revisit_on, Signal.id]
    return _listing(session, where, order, limit, clocks=False)


def ae_queue(session: Session, user_id: str, limit: int = PAGE) -> Listing:
    """The AE's open hand-offs (Hot/Warm), nearest acknowledge/contact deadline first."""
    nearest = _nearest_due(AE_CLOCKS)
    where = [*_owned_by(user_id), Signal.urgency != "watch"]
    order = [nearest.is_(None), nearest, Signal.created_at, Signal.id]
    return _listing(session, where, order, limit)


def ae_watch(session: Session, user_id: str, limit: int = WATCH_PAGE) -> Listing:
    """Watch-urgency hand-offs the AE reviews at the weekly account sync, soonest first."""
    nearest = _nearest_due(("review",))
    where = [*_owned_by(user_id), Signal.urgency == "watch"]
    order = [nearest.is_(None), nearest, Signal.created_at, Signal.id]
    return _listing(session, where, order, limit)


def team_of(session: Session, config: Config, user_id: str) -> list[str]:
    """The people reporting to `user_id` on the roster in force."""
    roster = managers(session, config.managers)
    return sorted(member for member, boss in roster.items() if boss == user_id)


def team_breaches(
    session: Session, team: Sequence[str], now: datetime, limit: int = PAGE
) -> Listing:
    """Open signals of the team with an escalation or an overdue SLA; most overdue first."""
    escalated = exists().where(Escalation.signal_id == Signal.id, Escalation.ae_id.in_(team))
    overdue = _nearest_due(AE_CLOCKS, before=now)
    last_escalation = (
        select(func.max(Escalation.decided_at)).where(Escalation.signal_id == Signal.id)
        .correlate(Signal).scalar_subquery()
    )
    where = [Signal.stage.in_(stages.OPEN_STAGES),
             or_(escalated, and_(Signal.ae_id.in_(team), overdue.is_not(None)))]
    order = [overdue.is_(None), overdue, last_escalation.desc(), Signal.id]
    listing = _listing(session, where, order, limit, clocks=AE_CLOCKS)
    latest = _latest_escalations(session, [item.signal.id for item in listing.items])
    for item in listing.items:
        item.escalation = escalation_view(latest.get(item.signal.id))
    return listing


def trend(
    session: Session, config: Config, now: datetime, owners: list[str] | None = None
) -> list[WeekSla]:
    """SLA attainment of `owners`' hand-offs (everyone's: None) over the weeks up to last
    week, as the digest counts it (one query)."""
    start, _ = week_bounds(now, config)
    return sla_weeks(session, config, start.astimezone(config.timezone).date(), now,
                     owners=owners)


def last_week_funnel(
    session: Session, config: Config, now: datetime, owners: list[str] | None = None
) -> Funnel:
    """How far last week's signals got (those handed to `owners`, or all)."""
    return funnel(session, *week_bounds(now, config), owners)


def held_count(session: Session) -> int:
    """How many outbox rows are held (failed for good, waiting for an admin)."""
    held = select(func.count()).where(OutboxMessage.status == OutboxStatus.HELD)
    return session.scalar(held) or 0


# -- query helpers -----------------------------------------------------------------------------


def _owned_by(user_id: str) -> list[ColumnElement[bool]]:
    """Hand-offs the person owns, or acts on while their AE is away."""
    return [or_(Signal.ae_id == user_id, Signal.acting_ae_id == user_id),
            Signal.stage.in_(stages.WITH_AE),
            Signal.ownership != Ownership.CS_LED]


def _nearest_due(clocks: Sequence[str], before: datetime | None = None):
    """Correlated: the earliest due time of the signal's running `clocks` (current token)."""
    stmt = select(func.min(Deadline.due_at)).where(
        Deadline.signal_id == Signal.id, Deadline.token == Signal.token,
        Deadline.state.in_(RUNNING), Deadline.clock.in_(clocks),
    )
    if before is not None:
        stmt = stmt.where(Deadline.due_at <= before)
    return stmt.correlate(Signal).scalar_subquery()


def _listing(
    session: Session, where: list[Any], order: list[Any], limit: int,
    clocks: Sequence[str] | bool = True,
) -> Listing:
    """One page of signals (`limit`), the total (counted only when the page is full), and
    each signal's nearest running clock (any clock when `clocks` is True, none when False)."""
    signals = list(session.scalars(select(Signal).where(*where).order_by(*order).limit(limit)))
    total = len(signals)
    if total == limit:
        total = session.scalar(select(func.count()).select_from(Signal).where(*where)) or 0
    nearest = {} if clocks is False else _next_clocks(
        session, [s.id for s in signals], None if clocks is True else clocks)
    return Listing([Item(signal_view(s), clock_view(nearest.get(s.id))) for s in signals], total)


def _next_clocks(
    session: Session, signal_ids: list[int], clocks: Sequence[str] | None
) -> dict[int, Deadline]:
    """The earliest running clock (current token) of each signal."""
    if not signal_ids:
        return {}
    stmt = (
        select(Deadline)
        .join(Signal, and_(Signal.id == Deadline.signal_id, Signal.token == Deadline.token))
        .where(Deadline.signal_id.in_(signal_ids), Deadline.state.in_(RUNNING))
        .order_by(Deadline.due_at.desc())
    )
    if clocks is not None:
        stmt = stmt.where(Deadline.clock.in_(clocks))
    return {d.signal_id: d for d in session.scalars(stmt)}  # last (earliest) wins


def _latest_escalations(session: Session, signal_ids: list[int]) -> dict[int, Escalation]:
    if not signal_ids:
        return {}
    stmt = (
        select(Escalation).where(Escalation.signal_id.in_(signal_ids))
        .order_by(Escalation.decided_at, Escalation.level)
    )
    return {e.signal_id: e for e in session.scalars(stmt)}  # last (latest) wins
