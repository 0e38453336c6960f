"""Roles from Slack user groups: who is an admin, or in a team, when the YAML and a group say so.

The config names people directly (`roster.admins`, a team's `members`) and, optionally, a
Slack user group (`roster.admins_group`, a team's `group`); the people in force are both,
merged. Pure: the group's members are
given (as last read from Slack), never fetched here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from protocol.config import Config
from protocol.policy import Team

YAML = "yaml"


def configured_groups(config: Config) -> tuple[str, ...]:
    """Every user group the config names (`roster.admins_group`, each team's `group`), in a
    stable order, each once."""
    named = [config.admins_group] if config.admins_group else []
    named += [team.group for team in config.teams if team.group]
    return tuple(dict.fromkeys(named))


def merged(listed: Sequence[str], group: Sequence[str]) -> tuple[str, ...]:
    """The YAML list first (in its order), then the group's other members (sorted)."""
    return (*listed, *sorted(set(group) - set(listed)))


def with_groups(config: Config, members: Mapping[str, Sequence[str]]) -> Config:
    """`config` with each group's last known members merged in (a group never read yet
    adds nobody; the YAML lists always count)."""
    if not configured_groups(config):
        return config
    listed = listed_admins(config)
    admins = merged(listed, members.get(config.admins_group, ())) if config.admins_group \
        else listed
    return dataclasses.replace(config, admins=admins, yaml_admins=listed,
                               teams=_teams_with_groups(config.teams, members))


def _teams_with_groups(teams: Sequence[Team], members: Mapping[str, Sequence[str]],
                       ) -> tuple[Team, ...]:
    """Each team with its group's members added; a person stays in one team: the one that
    lists them, else the first (in the config's order) whose group has them."""
    placed = {m for team in teams for m in team.members}
    out = []
    for team in teams:
        extra = [u for u in members.get(team.group, ()) if u not in placed] if team.group else []
        placed.update(extra)
        out.append(dataclasses.replace(team, members=merged(team.members, extra)) if extra
                   else team)
    return tuple(out)


def listed_admins(config: Config) -> tuple[str, ...]:
    """The admins the YAML file lists (before any group was merged in)."""
    return config.yaml_admins if config.yaml_admins is not None else config.admins


def group_source(group_id: str) -> str:
    """How a group is named as a source: "group S0123ABCD"."""
    return f"group {group_id}"


def admin_sources(config: Config, members: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Each admin in force and where the role comes from: "yaml", "group <id>", or both."""
    sources: dict[str, list[str]] = {admin: [YAML] for admin in listed_admins(config)}
    if config.admins_group:
        for user in members.get(config.admins_group, ()):
            sources.setdefault(user, []).append(group_source(config.admins_group))
    return sources
