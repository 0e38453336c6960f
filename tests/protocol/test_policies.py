"""SLA policies: which hand-off a policy takes, the first match wins, the snapshot a clock keeps,
and whose calendar each step counts in."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocol.calendar import BusinessHours
from protocol.config import Config
from protocol.policy import HandOff, PolicyMatch, SlaPolicy, SlaWindow
from protocol.sla import choose_policy, matches, plan_steps

H = timedelta(hours=1)
ENTERPRISE = SlaPolicy(
    name="Enterprise", match=PolicyMatch(teams=("Enterprise",), arr_min=150_000),
    windows={"hot": SlaWindow(ack=24 * H, contact=72 * H)}, reminders=(0.5,),
    escalation_repeat=None, business_hours=BusinessHours(enabled=True, country="GB",
                                                         subdivision="ENG"),
)
SMB = SlaPolicy(name="SMB", match=PolicyMatch(teams=("SMB",), urgencies=("hot",)),
                windows={"hot": SlaWindow(ack=2 * H, contact=8 * H)}, reminders=(),
                escalation_repeat=4 * H, business_hours=BusinessHours())
GROWTH = SlaPolicy(name="Growth plan", match=PolicyMatch(plans=("growth",),
                                                         segments=("Mid-Market",)),
                   windows=Config().sla, reminders=(), escalation_repeat=None,
                   business_hours=BusinessHours())
POLICIES = (ENTERPRISE, SMB, GROWTH, Config().sla_policy)


@pytest.mark.parametrize(
    ("hand_off", "chosen"),
    [
        (HandOff("hot", team="Enterprise", arr=150_000), "Enterprise"),  # min is inclusive
        (HandOff("hot", team="Enterprise", arr=149_999), "default"),
        (HandOff("hot", team="Enterprise"), "default"),  # no estimate: no ARR range matches
        (HandOff("hot", team="SMB", arr=1_000_000), "SMB"),
        (HandOff("warm", team="SMB"), "default"),  # SMB takes Hot only
        (HandOff("warm", plan="GROWTH", segment="mid-market"), "Growth plan"),  # any case
        (HandOff("warm", plan="growth"), "default"),  # both criteria must hold
        (HandOff("watch"), "default"),
    ],
)
def test_the_first_policy_that_matches_wins_and_the_default_is_last(hand_off, chosen):
    assert choose_policy(POLICIES, hand_off).name == chosen


def test_an_arr_range_is_min_inclusive_max_exclusive():
    band = PolicyMatch(arr_min=10_000, arr_max=150_000)
    assert [matches(band, HandOff("hot", arr=a)) for a in (9_999, 10_000, 149_999, 150_000)] == [
        False, True, True, False]


def test_no_policy_matching_is_a_bug_in_the_list():
    with pytest.raises(ValueError, match="default policy must come last"):
        choose_policy((SMB,), HandOff("warm"))


def test_the_snapshot_round_trips_everything_but_the_match():
    hours = BusinessHours(enabled=True, days=(0, 1, 2, 3), start=time(8, 30), end=time(18),
                          holidays=frozenset({date(2026, 12, 24)}), country="US",
                          subdivision="CA")
    policy = SlaPolicy(name="West", match=PolicyMatch(teams=("West",)),
                       windows={"hot": SlaWindow(ack=4 * H, contact=24 * H),
                                "watch": SlaWindow(review=7 * 24 * H)},
                       reminders=(0.5, 0.9), escalation_repeat=2 * H, business_hours=hours)
    back = SlaPolicy.from_snapshot(policy.snapshot())
    assert back == SlaPolicy(**{**policy.__dict__, "match": PolicyMatch()})
    import json

    assert json.loads(json.dumps(policy.snapshot())) == policy.snapshot()  # JSON-ready


def test_public_holidays_count_only_through_the_resolved_calendar():
    christmas = frozenset({date(2026, 12, 25), date(2026, 12, 28)})  # Boxing Day observed
    hours = BusinessHours(enabled=True, country="GB", public=christmas)
    assert hours.is_holiday(date(2026, 12, 28)) and not hours.is_holiday(date(2026, 12, 29))
    assert hours.calendar_label == "GB"
    assert BusinessHours(country="GB", subdivision="ENG").calendar_label == "GB-ENG"
    assert hours == BusinessHours(enabled=True, country="GB")  # resolved days are not config


def test_the_manager_s_time_to_act_counts_in_the_manager_s_calendar():
    """A US AE misses on Wednesday; a level-2 escalation waits for the UK manager's working
    day, which Thanksgiving (a US holiday) does not stop."""
    new_york, london = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
    thanksgiving = frozenset({date(2026, 11, 26)})
    us = BusinessHours(enabled=True, country="US", public=thanksgiving)
    uk = BusinessHours(enabled=True, country="GB")
    policy = SlaPolicy(name="p", windows={"hot": SlaWindow(ack=4 * H, contact=24 * H)},
                       reminders=(), escalation_repeat=4 * H, business_hours=us)
    started = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wed 09:00 in New York
    due = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # Wed 16:00 in New York
    own = plan_steps("ack", started, due, "hot", policy, new_york)
    theirs = plan_steps("ack", started, due, "hot", policy, new_york, manager=(uk, london))
    level2 = {s.level: s.at for s in own if s.kind == "escalate"}[2]
    # in the AE's calendar: 1 working hour on Wed, Thanksgiving skipped, 3 on Fri -> Fri 12:00
    assert level2.astimezone(new_york).strftime("%a %H:%M") == "Fri 12:00"
    uk_level2 = {s.level: s.at for s in theirs if s.kind == "escalate"}[2]
    # in the UK manager's: Wed 21:00 London is after hours -> Thu 09:00 + 4h = Thu 13:00
    assert uk_level2.astimezone(london).strftime("%a %d %H:%M") == "Thu 26 13:00"
