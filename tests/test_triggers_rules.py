"""The trigger rules, pure: each fires at its threshold and not just below it."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.config import Readiness, Triggers
from protocol import readiness
from protocol.triggers import (
    AccountData,
    Attempt,
    Reading,
    UsagePoint,
    evaluate,
    feature_unlock,
    growth,
    projected_day,
    renewal_window,
    risk_reasons,
    seat_capacity,
)

RULES = Triggers()
TODAY = date(2026, 11, 5)
NOW = datetime(2026, 11, 5, 15, 0, tzinfo=UTC)
ENDS = [
    date(2026, 6, 30),
    date(2026, 7, 31),
    date(2026, 8, 31),
    date(2026, 9, 30),
    date(2026, 10, 31),
]


def usage(*values: float, limit: float = 100_000, metric: str = "api_calls") -> AccountData:
    """An account whose `metric` took `values` over the last len(values) monthly cycles."""
    ends = ENDS[-len(values) :]
    points = [UsagePoint(end, v, limit) for end, v in zip(ends, values, strict=True)]
    return AccountData(name="Globex Corp", usage={metric: points})


def kinds(data: AccountData, now: datetime = NOW, today: date = TODAY) -> list[str]:
    return [f.kind for f in evaluate(data, RULES, now, today)]


# --- usage ceiling -------------------------------------------------------------------------


def test_ceiling_fires_at_70_percent_for_two_cycles():
    assert kinds(usage(40_000, 70_000, 70_000)) == ["usage_ceiling"]


def test_ceiling_does_not_fire_at_69_9_percent():
    assert "usage_ceiling" not in kinds(usage(69_900, 69_900, 69_900))


def test_ceiling_does_not_fire_after_one_cycle():
    assert "usage_ceiling" not in kinds(usage(40_000, 40_000, 95_000))  # one spike: a data point


def test_ceiling_run_is_broken_by_a_missing_cycle():
    points = [
        UsagePoint(date(2026, 7, 31), 80_000, 100_000),
        UsagePoint(date(2026, 10, 31), 80_000, 100_000),
    ]  # Aug and Sep are missing
    assert kinds(AccountData(name="A", usage={"api_calls": points})) == []


def test_ceiling_projection_on_a_hand_computed_series():
    # 70,000 -> 77,000 -> 84,700: +10% a cycle, so growth = (84,700 / 70,000) ** (1/2) - 1 = 0.10.
    # Cycles left = ln(100,000 / 84,700) / ln(1.1) = 0.166054 / 0.095310 = 1.742245;
    # a monthly cycle is 365.25 / 12 = 30.4375 days -> 53.03 days after 31 Oct = 23 Dec.
    [firing] = evaluate(usage(70_000, 77_000, 84_700), RULES, NOW, TODAY)
    assert firing.kind == "usage_ceiling"
    assert firing.figures["growth"] == pytest.approx(0.10)
    assert firing.figures["reach"] == "2026-12-23"
    assert firing.figures["cycles"] == 3
    assert firing.episode == "api_calls:2026-08-31"  # the cycle the run above 70% began
    assert firing.text.startswith(
        "api_calls at 85% of the limit for 3 cycles (cycles ending 31 Aug, 30 Sep and 31 Oct); "
        "at +10% a cycle it reaches the limit around 23 December."
    )
    assert firing.urgency == "hot"  # 48 days away: inside the 60-day window
    assert "23 December 2026" in firing.detail


def test_projection_arithmetic():
    point = UsagePoint(date(2026, 10, 31), 74_000, 100_000)
    cycles = math.log(100_000 / 74_000) / math.log(1.08)
    expected = date(2026, 10, 31) + timedelta(days=round(cycles * 30.4375))
    assert projected_day(point, 0.08, 30.4375) == expected == date(2027, 2, 27)  # 119 days
    assert projected_day(point, 0.0, 30.4375) is None
    assert growth([100, 110, 121]) == pytest.approx(0.10)
    assert growth([0, 10]) is None


def test_ceiling_far_from_the_limit_is_warm_and_says_when_to_act():
    [firing] = evaluate(usage(71_000, 72_000, 73_000), RULES, NOW, TODAY)
    assert firing.urgency == "warm"
    assert "Talk growth planning by" in firing.text


def test_flat_usage_at_the_ceiling_projects_no_date():
    [firing] = evaluate(usage(75_000, 75_000, 75_000), RULES, NOW, TODAY)
    assert "usage is not growing, so no date is projected" in firing.text
    assert firing.figures["reach"] is None


# --- usage trend ---------------------------------------------------------------------------


def test_trend_fires_after_three_cycles_of_8_percent_below_the_ceiling():
    firings = evaluate(usage(40_000, 43_200, 46_656, 50_388.48), RULES, NOW, TODAY)
    assert [f.kind for f in firings] == ["usage_trend"]
    assert firings[0].urgency == "watch"
    assert "+8%, +8%, +8% a cycle over the last 3 cycles" in firings[0].text


def test_trend_needs_three_cycles_of_growth():
    assert kinds(usage(43_200, 46_656, 50_388.48)) == []  # two cycles of +8%


def test_trend_needs_8_percent_every_cycle():
    assert kinds(usage(40_000, 43_200, 46_613, 50_388.48)) == []  # one cycle at +7.9%


def test_trend_gives_way_to_the_ceiling_for_the_same_metric():
    assert kinds(usage(60_000, 66_000, 72_000, 79_000)) == ["usage_ceiling"]


# --- seat capacity -------------------------------------------------------------------------


def seats(*users: float, bought: int = 100) -> AccountData:
    readings = [Reading(NOW - timedelta(days=len(users) - i), u) for i, u in enumerate(users)]
    return AccountData(name="A", seats=bought, readings=readings)


def test_seats_fire_within_15_percent_of_seats_bought():
    firing = seat_capacity(seats(85), RULES)
    assert firing is not None and firing.urgency == "hot"
    assert firing.text == "85 active users on 100 seats (85%): within 15% of the seats bought."


def test_seats_do_not_fire_just_below():
    assert seat_capacity(seats(84), RULES) is None


def test_seats_fire_above_the_seats_bought():
    firing = seat_capacity(seats(101), RULES)
    assert firing.text == "101 active users on 100 seats: 1 more than were bought."


def test_seat_episode_is_the_start_of_the_run():
    first = seat_capacity(seats(50, 86, 88), RULES)
    later = seat_capacity(seats(50, 86, 88, 90), RULES)
    assert first.episode == (NOW - timedelta(days=2)).date().isoformat()
    assert later.episode == (NOW - timedelta(days=3)).date().isoformat()
    assert seat_capacity(AccountData(name="A", readings=[Reading(NOW, 90)]), RULES) is None


def test_seats_of_the_reading_win_over_the_registry():
    data = AccountData(name="A", seats=100, readings=[Reading(NOW, 46, 50)])
    assert seat_capacity(data, RULES).figures == {"users": 46, "seats": 50, "share": 0.92}


# --- feature unlock ------------------------------------------------------------------------


def tries(*days_apart: int, feature: str = "sso") -> list[Attempt]:
    at, out = NOW - timedelta(days=sum(days_apart)), []
    out.append(Attempt(at, feature, "jane@globex.example"))
    for gap in days_apart:
        at += timedelta(days=gap)
        out.append(Attempt(at, feature, "sam@globex.example"))
    return out


@pytest.mark.parametrize(("gap", "fires"), [(13, True), (14, True), (15, False)])
def test_unlock_two_attempts_within_14_days(gap, fires):
    fired = feature_unlock(tries(gap), RULES, NOW, TODAY)
    assert bool(fired) is fires
    if fires:
        assert fired[0].urgency == "hot"
        assert fired[0].text.startswith(f"2 attempts at the gated feature sso by 2 people in {gap}")


def test_unlock_one_attempt_is_not_enough():
    assert feature_unlock(tries(), RULES, NOW, TODAY) == []


def test_unlock_ignores_old_attempts():
    old = tries(3)
    assert feature_unlock(old, RULES, NOW + timedelta(days=15), TODAY) == []


def test_unlock_episode_is_the_start_of_the_chain():
    [firing] = feature_unlock(tries(10, 10, 10), RULES, NOW, TODAY)
    assert firing.episode == f"sso:{(NOW - timedelta(days=30)).date().isoformat()}"
    assert firing.figures == {"attempts": 4, "people": 2, "days": 30}


# --- renewal window ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "fires"), [(59, False), (60, True), (75, True), (89, True), (90, True), (91, False)]
)
def test_renewal_window_60_to_90_days(days, fires):
    data = AccountData(name="A", renewal_date=TODAY + timedelta(days=days))
    firing = renewal_window(data, RULES, TODAY)
    assert (firing is not None) is fires
    if fires:
        assert firing.episode == data.renewal_date.isoformat()
        assert f"{days} days away" in firing.text


# --- at-risk guard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("health", "support", "reasons"),
    [
        (69, "none", ["health 69"]),
        (70, "none", []),
        (90, "P1", ["an open P1 support issue"]),
        (90, "P2", ["an open P2 support issue"]),
        (90, "P3", []),
        (None, None, []),
        (50, "P2", ["health 50", "an open P2 support issue"]),
    ],
)
def test_at_risk_guard(health, support, reasons):
    data = AccountData(name="A", health=health, open_support=support)
    assert risk_reasons(data, RULES) == reasons


# --- readiness score -----------------------------------------------------------------------


def globex() -> AccountData:
    data = usage(70_000, 77_000, 84_700)
    data.health, data.feature_adoption, data.open_support = 82, 0.78, "P3"
    data.contract_start = date(2025, 6, 1)
    data.readings = [Reading(NOW, 46, 50)]
    return data


def test_readiness_matches_a_hand_computed_account():
    # health 82 -> 15 (70-85); adoption 78% -> 20 (>75%); 46 active users -> 20 (>5);
    # an open P3 -> 0; 17 months since contract -> 10 (>9); usage +10% a cycle -> 10. = 75
    score = readiness.score(globex(), Readiness(), TODAY, 30.4375, 3)
    points = {p.key: p.points for p in score.parts}
    assert points == {
        "health": 15,
        "adoption": 20,
        "active_users": 20,
        "support": 0,
        "tenure": 10,
        "usage": 10,
    }
    assert (score.total, score.unknown, score.band) == (75, 0, "work")
    assert score.summary() == "75/100 (work it this quarter)"
    assert score.breakdown().startswith("health 82 → 15 · feature adoption 78% → 20")


def test_readiness_parts_without_data_are_unknown_not_zero():
    score = readiness.score(AccountData(name="New Co", health=90), Readiness(), TODAY, 30.4, 3)
    assert score.total == 25
    assert score.unknown == 20 + 20 + 15 + 10 + 10
    assert score.band == "fix"
    assert "feature adoption unknown" in score.breakdown()
    assert "points unknown" in score.summary()


@pytest.mark.parametrize(
    ("field", "value", "points"),
    [
        ("health", 86, 25),
        ("health", 85, 15),
        ("health", 70, 15),
        ("health", 69, 0),
        ("feature_adoption", 0.76, 20),
        ("feature_adoption", 0.75, 12),
        ("feature_adoption", 0.60, 12),
        ("feature_adoption", 0.59, 0),
    ],
)
def test_readiness_boundaries(field, value, points):
    data = AccountData(name="A", **{field: value})
    score = readiness.score(data, Readiness(), TODAY, 30.4, 3)
    assert score.total == points


def test_readiness_support_and_tenure_and_users():
    data = AccountData(
        name="A",
        open_support="none",
        support_resolved_on=TODAY - timedelta(10),
        contract_start=TODAY - timedelta(days=200),
        readings=[Reading(NOW, 4)],
    )
    points = {p.key: p.points for p in readiness.score(data, Readiness(), TODAY, 30.4, 3).parts}
    assert (points["support"], points["tenure"], points["active_users"]) == (8, 6, 12)
    data.support_resolved_on = TODAY - timedelta(days=31)
    points = {p.key: p.points for p in readiness.score(data, Readiness(), TODAY, 30.4, 3).parts}
    assert points["support"] == 15


def test_readiness_usage_flat_and_falling():
    flat = readiness.score(usage(50_000, 50_500, 51_000), Readiness(), TODAY, 30.4375, 3)
    falling = readiness.score(usage(60_000, 50_000, 40_000), Readiness(), TODAY, 30.4375, 3)
    assert [p.points for p in flat.parts if p.key == "usage"] == [5]
    assert [p.points for p in falling.parts if p.key == "usage"] == [0]
