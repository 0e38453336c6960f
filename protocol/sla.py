"""SLA clocks: when each falls due, the reminders and escalations along the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from protocol.calendar import deadline, fraction_point
from protocol.policy import SlaPolicy


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
) -> list[Step]:
    """Every step of one clock, in time order."""
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
    for level in range(2, MAX_LEVEL + 1):
        previous = deadline(previous, repeat, hours=hours, tz=tz)
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
