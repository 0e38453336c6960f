"""SLA clocks as pure arithmetic: windows, reminder points, escalation steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from protocol.calendar import BusinessHours
from protocol.config import Config
from protocol.policy import SlaPolicy, SlaWindow
from protocol.sla import (
    RUNNING,
    ClockState,
    clock_windows,
    due_at,
    due_steps,
    next_step_at,
    plan_steps,
)

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday
POLICY = Config().sla_policy


def test_each_urgency_starts_its_clocks():
    assert clock_windows("hot", POLICY) == {"ack": timedelta(hours=4),
                                            "contact": timedelta(hours=24)}
    assert clock_windows("watch", POLICY) == {"review": timedelta(days=7)}


def test_reminders_at_half_and_nine_tenths_then_two_escalations():
    due = due_at(START, timedelta(hours=4), POLICY, None)
    steps = plan_steps("ack", START, due, "hot", POLICY, None)
    assert [(s.kind, s.level, s.at - START) for s in steps] == [
        ("remind", 0, timedelta(hours=2)),
        ("remind", 0, timedelta(hours=3, minutes=36)),
        ("escalate", 1, timedelta(hours=4)),
        ("escalate", 2, timedelta(hours=8)),  # one more ack window of the urgency
    ]


def test_a_review_clock_only_reminds():
    due = START + timedelta(days=7)
    assert [(s.kind, s.at) for s in plan_steps("review", START, due, "watch", POLICY, None)] == [
        ("remind", due)]


def test_the_policy_s_repeat_and_business_hours_are_used():
    policy = SlaPolicy(windows={"hot": SlaWindow(ack=timedelta(hours=4))}, reminders=(),
                       escalation_repeat=timedelta(hours=1), business_hours=BusinessHours())
    due = START + timedelta(hours=4)
    steps = plan_steps("ack", START, due, "hot", policy, None)
    assert [s.at - START for s in steps] == [timedelta(hours=4), timedelta(hours=5)]


def test_after_downtime_every_escalation_runs_but_a_passed_reminder_is_skipped():
    due = START + timedelta(hours=4)
    steps = plan_steps("ack", START, due, "hot", POLICY, None)
    run, nxt = due_steps(steps, 0, START + timedelta(hours=9))
    assert [s.kind for s in run] == ["escalate", "escalate"]
    assert nxt == 4 and next_step_at(steps, nxt) is None
    run, nxt = due_steps(steps, 0, START + timedelta(hours=3))
    assert [s.kind for s in run] == ["remind"] and next_step_at(steps, nxt) == steps[1].at


def test_clock_states():
    assert set(RUNNING) == {ClockState.OPEN, ClockState.MISSED}
    assert ClockState.OPEN == "open"
