"""What the sweep decides for one due clock, as pure data."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from protocol.config import Config
from protocol.sla import ClockState
from protocol.sweep import DueClock, Roster, decide

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # a Monday
POLICY = Config().sla_policy
ROSTER = Roster({"ae": "mgr", "mgr": "vp"}, ("admin",))
ACK = DueClock(id=1, clock="ack", owner_id="ae", started_at=START,
               due_at=START + timedelta(hours=4), state=ClockState.OPEN, step=0, current=True,
               urgency="hot", tz=None)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def test_a_reminder_falls_due_and_the_clock_moves_to_the_next_step():
    move = decide(ACK, POLICY, ROSTER, set(), at(2.5))
    assert (move.reminder, move.escalations, move.step) == (0, (), 1)
    assert move.next_step_at == at(3.6) and move.state == ClockState.OPEN


def test_a_miss_escalates_to_the_manager_and_skips_the_pointless_reminder():
    move = decide(replace(ACK, step=1), POLICY, ROSTER, set(), at(4.1))
    assert move.reminder is None and move.state == ClockState.MISSED
    assert [(e.level, e.at, e.target.users) for e in move.escalations] == [(1, at(4), ("mgr",))]
    assert move.next_step_at == at(8)


def test_after_downtime_both_levels_at_once_but_never_a_level_decided_before():
    both = decide(ACK, POLICY, ROSTER, set(), at(9))
    assert [(e.level, e.target.users, e.target.reason) for e in both.escalations] == [
        (1, ("mgr",), "manager"), (2, ("vp",), "manager_of_manager")]
    assert both.next_step_at is None and both.step == 4
    again = decide(ACK, POLICY, ROSTER, {1}, at(9))
    assert [e.level for e in again.escalations] == [2]


def test_a_roster_gap_goes_to_the_admins():
    move = decide(replace(ACK, owner_id="stranger", step=2), POLICY, ROSTER, set(), at(4.1))
    assert [(e.target.users, e.target.reason) for e in move.escalations] == [
        (("admin",), "roster_gap")]


def test_a_voided_or_settled_clock_only_stops_being_looked_at():
    for clock in (replace(ACK, current=False), replace(ACK, state=ClockState.MET)):
        move = decide(clock, POLICY, ROSTER, set(), at(9))
        assert (move.next_step_at, move.step, move.reminder, move.escalations) == \
            (None, 0, None, ())
        assert move.state == clock.state
