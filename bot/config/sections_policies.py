"""`sla.policies`: SLA policies per team and segment, and `roster.holidays` (whose calendar).

Parsed after every other section: a policy's reminders, escalation repeat and business hours
default to the top-level ones, and its `match.teams` must name teams of `teams:`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.config.sections_team import ROSTER_KEYS, _check_user_id, required_name
from bot.config.sections_time import (
    _HOURS_KEYS,
    _SLA_CLOCKS,
    _business_hours,
    _check_ack_within_contact,
    _parse_reminders,
    holiday_calendar,
)
from bot.config.yaml_source import _NUMBER, _fail, _items, _Node, _node
from protocol.calendar import BusinessHours
from protocol.catalogue import URGENCIES
from protocol.config import Config
from protocol.policy import DEFAULT_POLICY, PolicyMatch, SlaPolicy, SlaWindow, Team
from service.calendars import public_holidays

_POLICY_KEYS = ("name", "match", *_SLA_CLOCKS, "reminders", "escalation_repeat", "business_hours")
_MATCH_KEYS = ("teams", "urgency", "arr", "plans", "segments")
_NAME_LENGTH = 60


@dataclass(frozen=True)
class _Defaults:
    """What a policy inherits from the top-level settings."""

    reminders: tuple[float, ...]
    escalation_repeat: Any
    hours: BusinessHours
    teams: tuple[Team, ...]


def _parse_policies(top: _Node, values: Mapping[str, Any]) -> dict[str, Any]:
    """`sla.policies` (ordered, first match wins), the roster's calendars, resolved holidays."""
    base = Config(**values)
    defaults = _Defaults(base.reminders, base.escalation_repeat, base.business_hours, base.teams)
    sla = top.child("sla", (*_SLA_CLOCKS, "reminders", "policies"))
    items = _items(sla, "policies", dict) if sla is not None else None
    policies: list[tuple[str, SlaPolicy]] = []
    for key, raw in items or []:
        policy = _policy(_node(top.file, key, raw, _POLICY_KEYS), defaults)
        _check_against_earlier(top.file, key, policy, policies)
        policies.append((key, policy))
    people = _person_holidays(top)
    hours = [base.business_hours, *(p.business_hours for _, p in policies)]
    calendars = _calendars(hours, people.values())
    result: dict[str, Any] = {"calendars": calendars,
                              "business_hours": _resolved(base.business_hours, calendars)}
    if people:
        result["person_holidays"] = people
    if policies:
        result["sla_policies"] = tuple(
            replace(p, business_hours=_resolved(p.business_hours, calendars)) for _, p in policies)
    return result


def _resolved(hours: BusinessHours, calendars: Mapping[Any, Any]) -> BusinessHours:
    if hours.country is None:
        return hours
    return replace(hours, public=calendars[(hours.country, hours.subdivision)])


def _policy(node: _Node, defaults: _Defaults) -> SlaPolicy:
    name = _name(node)
    match = _match(node, defaults.teams)
    reminders = _parse_reminders(node)
    hours_node = node.child("business_hours", _HOURS_KEYS)
    hours = defaults.hours if hours_node is None else _business_hours(hours_node, defaults.hours)
    return SlaPolicy(
        name=name,
        match=match,
        windows=_windows(node, match),
        reminders=defaults.reminders if reminders is None else reminders,
        escalation_repeat=node.duration("escalation_repeat", defaults.escalation_repeat),
        business_hours=hours,
    )


def _name(node: _Node) -> str:
    name = required_name(node, "every policy needs a name (the card shows it)", _NAME_LENGTH)
    if name.casefold() == DEFAULT_POLICY:
        node.fail("name", f"{DEFAULT_POLICY!r} is the built-in policy's name; choose another")
    return name


def _match(node: _Node, teams: tuple[Team, ...]) -> PolicyMatch:
    sub = node.child("match", _MATCH_KEYS)
    if sub is None:
        return PolicyMatch()
    known = {t.name.casefold(): t.name for t in teams}
    team_names = []
    for key, name in _items(sub, "teams", str) or []:
        if name.casefold() not in known:
            listed = ", ".join(repr(t.name) for t in teams) or "none: add them under `teams:`"
            _fail(node.file, key, f"unknown team {name!r}; the teams are {listed}")
        team_names.append(known[name.casefold()])
    urgencies = []
    for key, urgency in _items(sub, "urgency", str) or []:
        if urgency not in URGENCIES:
            _fail(node.file, key, f"{urgency!r} is not an urgency; use {', '.join(URGENCIES)}")
        urgencies.append(urgency)
    low, high = _arr_range(sub)
    return PolicyMatch(
        teams=tuple(team_names), urgencies=tuple(urgencies), arr_min=low, arr_max=high,
        plans=_words(sub, "plans"), segments=_words(sub, "segments"),
    )


def _arr_range(node: _Node) -> tuple[float | None, float | None]:
    sub = node.child("arr", ("min", "max"))
    if sub is None:
        return None, None
    low, high = sub.get("min", _NUMBER), sub.get("max", _NUMBER)
    for name, value in (("min", low), ("max", high)):
        if value is not None and value < 0:
            sub.fail(name, "must not be negative")
    if low is None and high is None:
        node.fail("arr", "give min (at least), max (below) or both, e.g. {min: 150000}")
    if low is not None and high is not None and high <= low:
        sub.fail("max", f"the range is empty: max ({high:g}) must be above min ({low:g})")
    return (None if low is None else float(low)), (None if high is None else float(high))


def _words(node: _Node, name: str) -> tuple[str, ...]:
    words = []
    for key, word in _items(node, name, (str, int)) or []:
        if not str(word).strip():
            _fail(node.file, key, "is empty")
        words.append(str(word).strip())
    return tuple(words)


def _windows(node: _Node, match: PolicyMatch) -> dict[str, SlaWindow]:
    """A window for every urgency the policy can match, each with all of its clocks."""
    urgencies = match.urgencies or tuple(_SLA_CLOCKS)
    windows: dict[str, SlaWindow] = {}
    for urgency, clocks in _SLA_CLOCKS.items():
        sub = node.child(urgency, clocks)
        if urgency not in urgencies:
            if sub is not None:
                node.fail(urgency, f"this policy never takes {urgency} hand-offs (match.urgency)")
            continue
        if sub is None:
            node.fail(urgency, f"missing: the policy takes {urgency} hand-offs, so it needs "
                      f"their window ({' and '.join(clocks)}), e.g. {urgency}: "
                      f"{{{', '.join(c + ': 24h' for c in clocks)}}}")
        for clock in clocks:
            if sub.data.get(clock) is None:
                sub.fail(clock, f"missing: a {urgency} window needs {' and '.join(clocks)}")
        windows[urgency] = SlaWindow(**{clock: sub.duration(clock, None) for clock in clocks})
        _check_ack_within_contact(sub, windows[urgency])
    return windows


def _check_against_earlier(
    file: str, key: str, policy: SlaPolicy, earlier: list[tuple[str, SlaPolicy]]
) -> None:
    """Refuse a duplicate name, a policy an earlier one hides, and overlapping ARR bands."""
    for other_key, other in earlier:
        if other.name.casefold() == policy.name.casefold():
            _fail(file, f"{key}.name", f"{policy.name!r} is also the name of {other_key}")
        if _covers(other.match, policy.match):
            _fail(file, f"{key}.match", f"never matches: {other_key} ({other.name!r}) comes "
                  "first and takes every hand-off this one would (the first match wins)")
        if _overlapping_bands(other.match, policy.match):
            _fail(file, f"{key}.match.arr", f"overlaps the ARR range of {other_key} "
                  f"({other.name!r}) with the same other criteria; make the ranges meet "
                  "(one's max is the next one's min)")


def _covers(first: PolicyMatch, later: PolicyMatch) -> bool:
    """True when every hand-off `later` matches is matched by `first` too."""
    sets = all(not getattr(first, f) or (getattr(later, f) and
                                          set(getattr(later, f)) <= set(getattr(first, f)))
               for f in ("teams", "urgencies", "plans", "segments"))
    low, high = later.arr_min, later.arr_max
    low_ok = first.arr_min is None or (low is not None and low >= first.arr_min)
    high_ok = first.arr_max is None or (high is not None and high <= first.arr_max)
    return sets and low_ok and high_ok


def _overlapping_bands(a: PolicyMatch, b: PolicyMatch) -> bool:
    same = all(set(getattr(a, f)) == set(getattr(b, f))
               for f in ("teams", "urgencies", "plans", "segments"))
    if not same or (a.arr_min is None and a.arr_max is None):
        return False
    low = max(a.arr_min or 0.0, b.arr_min or 0.0)
    high = min(a.arr_max or float("inf"), b.arr_max or float("inf"))
    return low < high


def _person_holidays(top: _Node) -> dict[str, tuple[str, str | None]]:
    """`roster.holidays`: {U...: {country, subdivision}} - whose public holidays they keep."""
    roster = top.child("roster", ROSTER_KEYS)
    raw = roster.get("holidays", dict) if roster is not None else None
    people: dict[str, tuple[str, str | None]] = {}
    for person, value in (raw or {}).items():
        key = roster.key(f"holidays.{person}")
        _check_user_id(roster.file, key, person)
        country, subdivision = holiday_calendar(
            _node(roster.file, key, value, ("country", "subdivision")))
        if country is None:
            _fail(roster.file, key, "needs a country, e.g. {country: GB, subdivision: ENG}")
        people[person] = (country, subdivision)
    return people


def _calendars(hours: list[BusinessHours], people: Any) -> dict[tuple[str, str | None], Any]:
    wanted = {(h.country, h.subdivision) for h in hours if h.country} | set(people)
    return {key: public_holidays(*key) for key in sorted(wanted, key=str)}
