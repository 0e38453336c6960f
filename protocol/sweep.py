"""What the SLA sweep decides for one due clock, as plain data: pure, no database, takes `now`.

`service.sweep` reads a batch of due clocks (`DueClock`), calls `decide` on each and writes
the result (`Move`) with one statement per row kind. Who an escalation goes to is decided
in one place, `escalation_for`: change it there (and give `Roster` / `DueClock` what it
needs) to send escalations somewhere else.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from protocol.calendar import BusinessHours
from protocol.escalation import Target, escalation_target
from protocol.policy import SlaPolicy
from protocol.sla import ClockState, Step, due_steps, next_step_at, plan_steps

SETTLED = (ClockState.MET, ClockState.CANCELLED)


@dataclass(frozen=True)
class DueClock:
    """One clock whose next step has fallen due (a `Deadline` row and what the sweep needs of
    its signal and owner)."""

    id: int
    clock: str  # ack | contact | review | outcome | revisit
    owner_id: str | None
    started_at: datetime
    due_at: datetime
    state: str  # a ClockState
    step: int  # index of the first step not yet run
    current: bool  # its token is the signal's (acknowledge or reassign did not void it)
    urgency: str  # the signal's
    tz: ZoneInfo | None  # the owner's time zone (working-time arithmetic)
    held_by: str | None = None  # while the owner is away: their cover, or their manager
    # the manager's business hours and zone: the time before an escalation climbs a level
    # counts in them (None: the owner's)
    manager: tuple[BusinessHours, ZoneInfo | None] | None = None

    @property
    def holder(self) -> str | None:
        """Who holds the clock: its owner, or while they are away whoever acts for them."""
        return self.held_by or self.owner_id


@dataclass(frozen=True)
class Roster:
    """Who escalations can reach: each person's manager (the roster in force) and the admins."""

    managers: Mapping[str, str]
    admins: tuple[str, ...]
    away: Mapping[str, str | None] = field(default_factory=dict)  # who is away -> cover


@dataclass(frozen=True)
class Escalate:
    """One escalation to decide now: its level, when its step fell due, who it goes to."""

    level: int
    at: datetime
    target: Target


@dataclass(frozen=True)
class Move:
    """What the sweep does with one due clock: where it stands afterwards, what it sends.

    `reminder` is the index (in the clock's steps) of the reminder to send, if one is due.
    """

    step: int
    next_step_at: datetime | None
    state: str
    reminder: int | None = None
    escalations: tuple[Escalate, ...] = ()


def decide(clock: DueClock, policy: SlaPolicy, roster: Roster, decided: Collection[int],
           now: datetime) -> Move:
    """The steps of `clock` due at `now`: the reminder worth sending (none when a later step
    is due too) and every escalation level not `decided` before, in order; a settled or
    voided clock just stops being looked at."""
    if not clock.current or clock.state in SETTLED:
        return Move(step=clock.step, next_step_at=None, state=clock.state)
    steps = plan_steps(clock.clock, clock.started_at, clock.due_at, clock.urgency, policy,
                       clock.tz, clock.manager)
    to_run, index = due_steps(steps, clock.step, now)
    reminder, escalations = None, []
    for step in to_run:
        if step.kind == "remind":
            reminder = steps.index(step)
        elif step.level not in decided:  # decided before: the unique constraint is the last word
            escalations.append(Escalate(step.level, step.at, escalation_for(clock, step, roster)))
    state = ClockState.MISSED.value if escalations else clock.state
    return Move(index, next_step_at(steps, index), state, reminder, tuple(escalations))


def escalation_for(clock: DueClock, step: Step, roster: Roster) -> Target:
    """Who hears that `clock` missed its SLA, at `step.level`: the manager of whoever held it
    (the owner, or their cover while they are away), one level up at level 2, the admins at a
    gap in the roster; a manager who is away passes it to their cover, or one level up."""
    return escalation_target(clock.holder, step.level, roster.managers, roster.admins,
                             roster.away)
