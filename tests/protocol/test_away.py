"""Away and cover: who acts for someone away, and where escalations go while a manager is away."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from protocol.away import (
    Acts,
    Period,
    acting_for,
    away_at,
    cover_problem,
    covering,
    last_day,
    period_bounds,
)
from protocol.escalation import escalation_target, may_act_for

ROSTER = {"alex": "mgr", "dana": "mgr", "sam": "mgr2", "mgr": "vp", "mgr2": "vp"}
ADMINS = ("admin",)
NOW = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def test_someone_in_acts_for_themselves():
    acting = acting_for("alex", ROSTER, {}, ADMINS)
    assert (acting.acts, acting.users, acting.holder) == (Acts.SELF, ("alex",), None)


def test_an_away_ae_with_a_cover_has_an_acting_ae():
    acting = acting_for("alex", ROSTER, {"alex": "dana"}, ADMINS)
    assert (acting.acts, acting.holder) == (Acts.COVER, "dana")


def test_a_cover_who_is_away_passes_on_to_their_own_cover_else_the_manager():
    assert acting_for("alex", ROSTER, {"alex": "dana", "dana": "sam"}, ADMINS).holder == "sam"
    fallback = acting_for("alex", ROSTER, {"alex": "dana", "dana": None}, ADMINS)
    assert (fallback.acts, fallback.holder) == (Acts.MANAGER, "mgr")
    loop = acting_for("alex", ROSTER, {"alex": "dana", "dana": "alex"}, ADMINS)
    assert loop.acts == Acts.MANAGER


def test_no_cover_goes_to_the_manager_or_one_up_or_the_admins():
    assert acting_for("alex", ROSTER, {"alex": None}, ADMINS).holder == "mgr"
    up = acting_for("alex", ROSTER, {"alex": None, "mgr": None}, ADMINS)
    assert (up.acts, up.holder) == (Acts.MANAGER, "vp")
    gap = acting_for("stranger", ROSTER, {"stranger": None}, ADMINS)
    assert (gap.acts, gap.users, gap.holder) == (Acts.ADMINS, ADMINS, None)


def test_an_away_manager_hands_escalations_to_their_cover_or_one_level_up():
    covered = escalation_target("alex", 1, ROSTER, ADMINS, {"mgr": "mgr2"})
    assert (covered.users, covered.reason) == (("mgr2",), "cover")
    up = escalation_target("alex", 1, ROSTER, ADMINS, {"mgr": None})
    assert (up.users, up.reason) == (("vp",), "manager_away")
    cover_away = escalation_target("alex", 1, ROSTER, ADMINS, {"mgr": "mgr2", "mgr2": None})
    assert cover_away.users == ("vp",)
    top = escalation_target("alex", 1, ROSTER, ADMINS, {"mgr": None, "vp": None})
    assert (top.users, top.reason) == (ADMINS, "roster_gap")
    assert escalation_target("alex", 1, ROSTER, ADMINS, {"alex": "dana"}).users == ("mgr",)


def test_a_cover_may_act_where_the_person_covered_may():
    assert not may_act_for("dana", "alex", ROSTER, ADMINS)
    assert may_act_for("dana", "alex", ROSTER, ADMINS, covering={"alex"})
    assert may_act_for("mgr2", "alex", ROSTER, ADMINS, covering={"mgr"})  # acting manager
    assert not may_act_for("mgr2", "alex", ROSTER, ADMINS, covering={"sam"})
    assert covering("sam", {"alex": "dana", "dana": "sam"}) == {"alex", "dana"}


def test_who_may_cover_whom():
    assert cover_problem("alex", "dana", ROSTER, inactive=False) is None
    assert cover_problem("mgr", "mgr2", ROSTER, inactive=False) is None
    assert cover_problem("alex", None, ROSTER, inactive=False) is None
    assert "someone else" in cover_problem("alex", "alex", ROSTER, inactive=False)
    assert "deactivated" in cover_problem("alex", "dana", ROSTER, inactive=True)
    assert "a manager" in cover_problem("alex", "mgr", ROSTER, inactive=False)
    assert "an AE" in cover_problem("mgr", "dana", ROSTER, inactive=False)
    assert "a CSM" in cover_problem("alex", "casey", ROSTER, inactive=False, cover_is_csm=True)
    assert cover_problem("mgr", "mgr2", ROSTER, inactive=False, cover_is_csm=True) is None


def test_periods_run_from_a_first_day_through_a_last_day_in_the_persons_zone():
    starts, ends = period_bounds(None, date(2026, 12, 24), NOW, NY)
    assert starts == NOW and ends == datetime(2026, 12, 25, 5, 0, tzinfo=UTC)
    assert last_day(ends, NY) == date(2026, 12, 24)
    later, _ = period_bounds(date(2026, 12, 14), date(2026, 12, 24), NOW, NY)
    assert later == datetime(2026, 12, 14, 5, 0, tzinfo=UTC)
    today, _ = period_bounds(date(2026, 12, 10), date(2026, 12, 24), NOW, NY)
    assert today == NOW  # a first day already begun starts now
    with pytest.raises(ValueError, match="already passed"):
        period_bounds(None, date(2026, 12, 9), NOW, NY)
    with pytest.raises(ValueError, match="on or before"):
        period_bounds(date(2026, 12, 20), date(2026, 12, 14), NOW, NY)
    with pytest.raises(ValueError, match="at most"):
        period_bounds(None, date(2028, 12, 9), NOW, NY)


def test_away_at_includes_the_start_and_excludes_the_end():
    period = Period("alex", NOW, datetime(2026, 12, 25, 5, tzinfo=UTC), "dana")
    assert away_at([period], NOW) == {"alex": "dana"}
    assert away_at([period], period.ends) == {}
