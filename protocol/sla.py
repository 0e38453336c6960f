"""SLA clocks: when each falls due, the reminders and escalations along the way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from protocol.calendar import BusinessHours, deadline, fraction_point
from protocol.policy import HandOff, PolicyMatch, SlaPolicy


class ClockState(StrEnum):
    """Where an SLA clock (a `Deadline` row) stands."""

    OPEN = "open"  # running
    MET = "met"  # its step was taken in time (or late, after escalating)
    MISSED = "missed"  # past due: escalating until it is met
    CANCELLED = "cancelled"  # the signal moved on (reassigned, closed)


RUNNING = (ClockState.OPEN, ClockState.MISSED)  # clocks still ticking
ESCALATING = ("ack", "contact")  # clocks whose miss goes to the AE's manager
MAX_LEVEL = 2  # the manager, then one level further (their manager or the admins)


@dataclass(frozen=True)
class Step:
    """One thing the sweep does for a clock: remind the owner, or escalate at `level`."""

    at: datetime
    kind: str  # remind | escalate
    level: int = 0
    fraction: float | None = None


def matches(match: PolicyMatch, hand_off: HandOff) -> bool:
    """True when every criterion `match` sets holds for `hand_off`."""
    checks = (
        not match.teams or hand_off.team in match.teams,
        not match.urgencies or hand_off.urgency in match.urgencies,
        _in_range(hand_off.arr, match.arr_min, match.arr_max),
        _listed(hand_off.plan, match.plans),
        _listed(hand_off.segment, match.segments),
    )
    return all(checks)


def choose_policy(policies: Sequence[SlaPolicy], hand_off: HandOff) -> SlaPolicy:
    """The first policy that matches `hand_off` (the built-in default, last, matches all)."""
    for policy in policies:
        if matches(policy.match, hand_off):
            return policy
    raise ValueError("no SLA policy matches; the default policy must come last")


def _in_range(arr: float | None, low: float | None, high: float | None) -> bool:
    if low is None and high is None:
        return True
    if arr is None:
        return False
    return (low is None or arr >= low) and (high is None or arr < high)


def _listed(value: str | None, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    return value is not None and value.casefold() in {a.casefold() for a in allowed}


def clock_windows(urgency: str, policy: SlaPolicy) -> dict[str, timedelta]:
    """The clocks a hand-off at `urgency` starts, with their windows."""
    window = policy.windows[urgency]
    pairs = (("ack", window.ack), ("contact", window.contact), ("review", window.review))
    return {clock: length for clock, length in pairs if length}


def due_at(start: datetime, window: timedelta, policy: SlaPolicy, tz: ZoneInfo | None) -> datetime:
    """When a window started at `start` ends, in calendar or working time."""
    return deadline(start, window, hours=policy.business_hours, tz=tz)


def plan_steps(
    clock: str,
    started_at: datetime,
    due: datetime,
    urgency: str,
    policy: SlaPolicy,
    tz: ZoneInfo | None,
    manager: tuple[BusinessHours, ZoneInfo | None] | None = None,
) -> list[Step]:
    """Every step of one clock, in time order.

    Reminders and the miss count in the owner's calendar (`policy.business_hours`, `tz`): the
    AE owes the step. The time a manager has before an escalation climbs a level counts in
    `manager`'s calendar (their hours and zone) when given.
    """
    hours = policy.business_hours
    if clock not in ESCALATING:
        return [Step(at=due, kind="remind")]
    steps = [
        Step(at=fraction_point(started_at, due, f, hours=hours, tz=tz), kind="remind", fraction=f)
        for f in policy.reminders
    ]
    steps.append(Step(at=due, kind="escalate", level=1))
    repeat = policy.escalation_repeat or policy.windows[urgency].ack or timedelta(hours=24)
    previous = due
    climb_hours, climb_tz = manager or (hours, tz)
    for level in range(2, MAX_LEVEL + 1):
        previous = deadline(previous, repeat, hours=climb_hours, tz=climb_tz)
        steps.append(Step(at=previous, kind="escalate", level=level))
    return steps


def due_steps(steps: list[Step], start_index: int, now: datetime) -> tuple[list[Step], int]:
    """The steps to run now, and the index of the first step still ahead.

    After downtime several steps can be due at once: every escalation runs, in order,
    but a reminder is skipped when a later step is also due (it would be pointless).
    """
    due = [s for s in steps[start_index:] if s.at <= now]
    keep = [s for i, s in enumerate(due) if s.kind != "remind" or i == len(due) - 1]
    return keep, start_index + len(due)


def next_step_at(steps: list[Step], index: int) -> datetime | None:
    """When the step at `index` falls due, or None when none is left."""
    return steps[index].at if index < len(steps) else None
