"""Section parsers for people and the protocol: roster, digest, qualification and routing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from blocks import limits
from bot.config.times import parse_schedule
from bot.config.yaml_source import _NUMBER, _describe, _fail, _items, _Node, _node
from protocol.config import DEFAULT_CONFIG
from protocol.policy import Criterion, Routing, Rubric, Team

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,}")
# `roster:` keys (holidays are read by sections_policies, the rest here)
ROSTER_KEYS = ("managers", "admins", "holidays", "admins_group", "group_refresh")
_TEAM_NAME_LENGTH = 60
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")
_CRITERION_KEY = re.compile(r"[a-z0-9_]+")


def _check_user_id(file: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not _USER_ID.fullmatch(value):
        _fail(file, key, f"{_describe(value)} is not a Slack user id (like U0123ABCD)")
    return value


def _parse_roster(top: _Node) -> dict[str, Any]:
    node = top.child("roster", ROSTER_KEYS)
    if node is None:
        return {}
    result: dict[str, Any] = {}
    group = node.get("admins_group", str)
    if group is not None:
        result["admins_group"] = check_group_id(node, "admins_group", group)
    refresh = node.duration("group_refresh", DEFAULT_CONFIG.group_refresh)
    if refresh < timedelta(minutes=1):
        node.fail("group_refresh", "must be at least 1m (Slack allows about 20 reads a minute)")
    result["group_refresh"] = refresh
    raw_managers = node.get("managers", dict)
    if raw_managers is not None:
        result["managers"] = _managers(node, raw_managers)
    admins = _items(node, "admins", str)
    if admins is not None:
        result["admins"] = tuple(_check_user_id(node.file, key, admin) for key, admin in admins)
    return result


def check_group_id(node: _Node, name: str, value: str) -> str:
    """A Slack user group id (S0123ABCD), as `usergroups.users.list` takes it."""
    if not _GROUP_ID.fullmatch(value):
        node.fail(name, f"{value!r} is not a Slack user group id like S0123ABCD (the group's "
                        "id, not its @handle)")
    return value


def _managers(node: _Node, raw: Mapping[Any, Any]) -> dict[str, str]:
    managers: dict[str, str] = {}
    for person, manager in raw.items():
        key = node.key(f"managers.{person}")
        _check_user_id(node.file, key, person)
        _check_user_id(node.file, key, manager)
        if person == manager:
            _fail(node.file, key, f"{person} cannot be their own manager")
        managers[person] = manager
    cycle = _find_cycle(managers)
    if cycle:
        loop = " -> ".join(cycle)
        _fail(node.file, node.key(f"managers.{cycle[0]}"), f"managers form a loop: {loop}")
    return managers


def _find_cycle(managers: Mapping[str, str]) -> list[str] | None:
    """A manager chain that comes back to itself (A -> B -> A), or None."""
    for start in managers:
        chain = [start]
        current = managers[start]
        while current in managers:
            if current in chain:
                return [*chain[chain.index(current) :], current]
            chain.append(current)
            current = managers[current]
    return None


def _parse_teams(top: _Node) -> dict[str, Any]:
    """`teams:`, a list of {name, members, group}; names unique, a person in one team only."""
    items = _items(top, "teams", dict)
    if items is None:
        return {}
    teams: list[Team] = []
    member_of: dict[str, str] = {}
    for key, raw in items:
        node = _node(top.file, key, raw, ("name", "members", "group"))
        team = _team(node)
        twin = next((t for t in teams if t.name.casefold() == team.name.casefold()), None)
        if twin is not None:
            node.fail("name", f"{team.name!r} is already the name of another team")
        for member in team.members:
            if member in member_of:
                node.fail("members", f"{member} is already a member of team {member_of[member]!r}; "
                          "a person belongs to one team")
            member_of[member] = team.name
        teams.append(team)
    return {"teams": tuple(teams)}


def required_name(node: _Node, why: str, limit: int = _TEAM_NAME_LENGTH) -> str:
    """The item's `name`, stripped: present (else "is required: `why`") and at most `limit`
    characters; a team's and a policy's name are checked alike."""
    name = (node.get("name", str) or "").strip()
    if not name:
        node.fail("name", f"is required: {why}")
    if len(name) > limit:
        node.fail("name", f"is {len(name)} characters; at most {limit}")
    return name


def _team(node: _Node) -> Team:
    name = required_name(node, "every team needs a name")
    members: list[str] = []
    for key, member in _items(node, "members", str) or []:
        _check_user_id(node.file, key, member)
        if member in members:
            _fail(node.file, key, f"{member} is listed twice")
        members.append(member)
    group = node.get("group", str)
    if group is not None and not _GROUP_ID.fullmatch(group):
        node.fail("group", f"{group!r} is not a Slack user group id (like S0123ABCD; "
                  "usergroups.list shows it)")
    if not members and group is None:
        node.fail("members", f"team {name!r} has no members and no group")
    return Team(name=name, members=tuple(members), group=group)


def _parse_digest(top: _Node) -> dict[str, Any]:
    node = top.child("digest", ("channel", "schedule"))
    if node is None:
        return {}
    result: dict[str, Any] = {}
    channel = node.get("channel", str)
    if channel is not None:
        if not _CHANNEL_ID.fullmatch(channel):
            node.fail(
                "channel",
                f"{channel!r} is not a channel id like C0123ABCD (see the channel's details)",
            )
        result["digest_channel"] = channel
    schedule = node.get("schedule", str)
    if schedule is not None:
        try:
            result["digest_weekday"], result["digest_time"] = parse_schedule(schedule)
        except ValueError as exc:
            node.fail("schedule", str(exc))
    return result


def _parse_qualification(top: _Node) -> dict[str, Any]:
    node = top.child("qualification", ("threshold", "criteria"))
    if node is None:
        return {}
    criteria = _criteria(node) or DEFAULT_CONFIG.rubric.criteria
    threshold = node.get("threshold", int)
    if threshold is None:
        threshold = DEFAULT_CONFIG.rubric.threshold
        where = f"the default threshold {threshold}"
    else:
        where = f"threshold {threshold}"
    if threshold < 1:
        node.fail("threshold", "must be at least 1")
    if threshold > len(criteria):
        node.fail("threshold", f"{where} is more than the {len(criteria)} criteria")
    return {"rubric": Rubric(criteria=criteria, threshold=threshold)}


def _criteria(node: _Node) -> tuple[Criterion, ...] | None:
    items = _items(node, "criteria", dict)
    if items is None:
        return None
    if not items:
        node.fail("criteria", "needs at least one criterion")
    if len(items) > limits.CHECKBOX_OPTIONS:  # the modal's checklist is one checkboxes element
        node.fail("criteria", f"has {len(items)} criteria; Slack's checkboxes hold at most "
                  f"{limits.CHECKBOX_OPTIONS} options")
    criteria: list[Criterion] = []
    for key, raw in items:
        criterion = _criterion(_node(node.file, key, raw, ("key", "label", "hint")))
        if any(seen.key == criterion.key for seen in criteria):
            _fail(node.file, f"{key}.key", f"{criterion.key!r} is used by another criterion")
        criteria.append(criterion)
    return tuple(criteria)


def _criterion(item: _Node) -> Criterion:
    key = item.get("key", str)
    label = item.get("label", str)
    if key is None:
        item.fail("key", "is required")
    if not _CRITERION_KEY.fullmatch(key):
        item.fail("key", f"{key!r} may only use a-z, 0-9 and _")
    if not label or not label.strip():
        item.fail("label", "is required")
    hint = item.get("hint", str, "").strip()
    # each criterion is a checkbox option: Slack's option text and description hold 75 each
    if len(label.strip()) > limits.OPTION_TEXT:
        item.fail("label", f"is {len(label.strip())} characters; a Slack option shows at most "
                  f"{limits.OPTION_TEXT}")
    if len(hint) > limits.OPTION_TEXT:
        item.fail("hint", f"is {len(hint)} characters; a Slack option description shows at "
                  f"most {limits.OPTION_TEXT}")
    return Criterion(key=key, label=label.strip(), hint=hint)


def _parse_routing(top: _Node) -> dict[str, Any]:
    node = top.child("routing", ("enabled", "cs_led_below", "joint_at_or_above"))
    if node is None:
        return {}
    default = DEFAULT_CONFIG.routing
    routing = Routing(
        enabled=node.get("enabled", bool, default.enabled),
        cs_led_below=_amount(node, "cs_led_below", default.cs_led_below),
        joint_at_or_above=_amount(node, "joint_at_or_above", default.joint_at_or_above),
    )
    low, high = routing.cs_led_below, routing.joint_at_or_above
    if low is not None and high is not None and low > high:
        node.fail("cs_led_below", f"{low:g} is above joint_at_or_above ({high:g})")
    if routing.enabled and low is None and high is None:
        node.fail("enabled", "routing is on but neither cs_led_below nor joint_at_or_above is set")
    return {"routing": routing}


def _amount(node: _Node, name: str, default: float | None) -> float | None:
    value = node.get(name, _NUMBER)
    if value is None:
        return default
    if value < 0:
        node.fail(name, "must not be negative")
    return float(value)


VISIBILITY = {"digest": ("team", "managers", "admins"), "accounts": ("team", "owners")}


def _parse_visibility(top: _Node) -> dict[str, Any]:
    node = top.child("visibility", tuple(VISIBILITY))
    if node is None:
        return {}
    result: dict[str, Any] = {}
    for name, attr in (("digest", "digest_visibility"), ("accounts", "account_visibility")):
        value = node.get(name, str)
        if value is None:
            continue
        if value not in VISIBILITY[name]:
            node.fail(name, f"{value!r} is not one of {', '.join(VISIBILITY[name])}")
        result[attr] = value
    return result
