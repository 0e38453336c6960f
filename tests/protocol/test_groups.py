"""Admins from the YAML list and a Slack user group, merged; where each role comes from."""

from __future__ import annotations

from protocol.config import Config
from protocol.groups import admin_sources, configured_groups, with_groups

YAML_ADMIN, BOTH, GROUP_ONLY = "U0YAML0001", "U0BOTH0001", "U0GRUP0001"


def test_no_group_leaves_the_config_alone():
    config = Config(admins=(YAML_ADMIN,))
    assert configured_groups(config) == ()
    assert with_groups(config, {"S0X": (GROUP_ONLY,)}) is config


def test_group_members_are_merged_after_the_yaml_list_and_sources_say_which():
    config = Config(admins=(YAML_ADMIN, BOTH), admins_group="S0ADMINS1")
    merged = with_groups(config, {"S0ADMINS1": (GROUP_ONLY, BOTH)})
    assert merged.admins == (YAML_ADMIN, BOTH, GROUP_ONLY)
    assert admin_sources(merged, {"S0ADMINS1": (GROUP_ONLY, BOTH)}) == {
        YAML_ADMIN: ["yaml"], BOTH: ["yaml", "group S0ADMINS1"],
        GROUP_ONLY: ["group S0ADMINS1"]}
    again = with_groups(merged, {"S0ADMINS1": ()})  # the group emptied: the YAML list stays
    assert again.admins == (YAML_ADMIN, BOTH)


def test_a_group_never_read_adds_nobody():
    config = Config(admins=(YAML_ADMIN,), admins_group="S0ADMINS1")
    assert with_groups(config, {}).admins == (YAML_ADMIN,)


def test_a_teams_group_adds_members_but_a_person_stays_in_one_team():
    from protocol.policy import Team

    config = Config(teams=(Team("Enterprise", ("U0AE00001",), "S0ENT0001"),
                           Team("SMB", ("U0AE00002",), "S0SMB0001")))
    assert configured_groups(config) == ("S0ENT0001", "S0SMB0001")
    merged = with_groups(config, {"S0ENT0001": ("U0AE00002", "U0NEW0001"),
                                  "S0SMB0001": ("U0NEW0001", "U0NEW0002")})
    assert [t.members for t in merged.teams] == [("U0AE00001", "U0NEW0001"),
                                                 ("U0AE00002", "U0NEW0002")]
    assert merged.team_of_member["U0NEW0002"] == "SMB"
