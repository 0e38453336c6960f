"""A signal's SLA clocks: start them, stop them as met, cancel them."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol.config import Config
from protocol.sla import RUNNING, ClockState, clock_windows, due_at, plan_steps
from service.calendars import person_hours
from service.policies import hand_off_of, matched_detail, policy_for
from storage.cache import MISSING, caches_of
from storage.models import Deadline, Person, Signal


def start_clocks(
    session: Session, config: Config, signal: Signal, owner: str, now: datetime
) -> dict[str, Any]:
    """Start the signal's SLA clocks for `owner` (the AE), per its urgency.

    The clocks run under the first SLA policy that matches the hand-off and keep a snapshot
    of it; they count in the owner's calendar. Returns which policy matched and on what: the
    caller records it in the event of the hand-off (`{"sla_policy": ...}`), so matching adds no
    row and no statement of its own.
    """
    tz = tz_of(session, owner, config)
    hand_off = hand_off_of(config, signal, owner)
    policy = policy_for(config, hand_off)
    snapshot = policy.snapshot()
    owned = policy.with_hours(person_hours(config, policy.business_hours, owner))
    for clock, window in clock_windows(signal.urgency, owned).items():
        due = due_at(now, window, owned, tz)
        steps = plan_steps(clock, now, due, signal.urgency, owned, tz)
        deadline = add_clock(session, signal, clock, owner, now, due, steps[0].at)
        deadline.policy_name, deadline.policy = policy.name, snapshot
    return {"sla_policy": matched_detail(policy, hand_off)}


def add_clock(
    session: Session,
    signal: Signal,
    clock: str,
    owner: str | None,
    start: datetime,
    due: datetime,
    first_step: datetime | None = None,
) -> Deadline:
    """A running clock of `signal`, due at `due`; the sweep first looks at `first_step`."""
    deadline = Deadline(
        signal_id=signal.id,
        clock=clock,
        token=signal.token,
        owner_id=owner,
        started_at=start,
        due_at=due,
        state=ClockState.OPEN,
        step=0,
        next_step_at=first_step or due,
    )
    session.add(deadline)  # written with the rest of the unit of work (autoflush if queried)
    return deadline


def tz_of(session: Session, user_id: str | None, config: Config) -> ZoneInfo:
    """The person's Slack time zone, else the config's. A known zone is kept by this process's
    caches for a few minutes (storage/cache.py): the ack path asks for the AE's every time."""
    return zone_named(_tz_name(session, user_id) if user_id else None, config)


def zone_named(name: str | None, config: Config) -> ZoneInfo:
    """The time zone called `name` (a person's Slack zone), else the config's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError):
            pass
    return config.timezone


def _tz_name(session: Session, user_id: str) -> str | None:
    caches = caches_of(session)
    name = caches.tz.get(user_id) if caches is not None else MISSING
    if name is MISSING:
        found = session.get(Person, user_id)
        name = found.tz if found else None
        if name and caches is not None:
            caches.tz.put(user_id, name)
    return name


def open_clocks(session: Session, signal: Signal, *clocks: str) -> list[Deadline]:
    """The signal's clocks still running (open or missed-and-escalating)."""
    stmt = select(Deadline).where(
        Deadline.signal_id == signal.id, Deadline.state.in_(RUNNING)
    )
    if clocks:
        stmt = stmt.where(Deadline.clock.in_(clocks))
    return list(session.scalars(stmt))


def meet(session: Session, signal: Signal, now: datetime, *clocks: str) -> None:
    """Stop `clocks` (all if none named) as met now."""
    for deadline in open_clocks(session, signal, *clocks):
        deadline.state = ClockState.MET
        deadline.met_at = now
        deadline.next_step_at = None


def cancel_clocks(session: Session, signal: Signal, now: datetime) -> None:
    """Stop every running clock: nothing further is owed on them."""
    for deadline in open_clocks(session, signal):
        deadline.state = ClockState.CANCELLED
        deadline.next_step_at = None
