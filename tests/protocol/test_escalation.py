"""Who an escalation goes to, and who may act for an owner."""

from __future__ import annotations

from protocol.escalation import escalation_target, may_act_for

ROSTER = {"ae": "mgr", "mgr": "vp", "loop": "loop"}
ADMINS = ("admin",)


def test_level_one_is_the_manager_and_level_two_one_further_up():
    assert escalation_target("ae", 1, ROSTER, ADMINS).users == ("mgr",)
    assert escalation_target("ae", 1, ROSTER, ADMINS).reason == "manager"
    top = escalation_target("ae", 2, ROSTER, ADMINS)
    assert (top.users, top.reason) == (("vp",), "manager_of_manager")


def test_a_gap_in_the_roster_goes_to_the_admins_or_no_one():
    assert escalation_target("mgr", 2, ROSTER, ADMINS).users == ADMINS
    assert escalation_target("stranger", 1, ROSTER, ADMINS).reason == "roster_gap"
    assert escalation_target("stranger", 1, ROSTER, ()).reason == "no_one"
    assert escalation_target(None, 1, ROSTER, ADMINS).users == ADMINS
    assert escalation_target("loop", 1, ROSTER, ADMINS).reason == "roster_gap"  # self-manager


def test_the_owner_anyone_above_them_or_an_admin_may_act():
    assert may_act_for("ae", "ae", ROSTER, ADMINS)
    assert may_act_for("mgr", "ae", ROSTER, ADMINS)
    assert may_act_for("vp", "ae", ROSTER, ADMINS)
    assert may_act_for("admin", "ae", ROSTER, ADMINS)
    assert not may_act_for("ae", "mgr", ROSTER, ADMINS)  # not downwards
    assert not may_act_for("mgr", None, ROSTER, ADMINS)
    assert not may_act_for("x", "loop", ROSTER, ADMINS)  # a cycle ends the walk
