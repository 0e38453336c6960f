"""Who hears about a missed SLA: the AE's manager, then one level up, else the admins.

A manager who is away hands their escalations to their cover (the acting manager), or, with
no cover, one level up (`protocol.away` names who is away).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """The people an escalation goes to, and why them."""

    users: tuple[str, ...]
    reason: str  # manager | manager_of_manager | cover | manager_away | roster_gap | no_one


def escalation_target(
    ae_id: str | None, level: int, managers: Mapping[str, str], admins: tuple[str, ...],
    away: Mapping[str, str | None] | None = None,
) -> Target:
    """Walk `level` steps up the roster from the AE; fall back to the admins at a gap.

    A target who is `away` (person -> cover) passes it to their cover when the cover is in,
    else one level up (reason `cover` / `manager_away`).
    """
    away = away or {}
    person = ae_id
    for _ in range(level):
        boss = managers.get(person) if person else None
        if not boss or boss == person:
            return _gap(admins)
        person = boss
    reason = "manager" if level == 1 else "manager_of_manager"
    seen: set[str] = set()
    while person in away and person not in seen:
        seen.add(person)
        cover = away[person]
        if cover and cover not in away:
            return Target(users=(cover,), reason="cover")
        boss = managers.get(person)
        if not boss or boss == person:
            return _gap(admins)
        person, reason = boss, "manager_away"
    return Target(users=(person,), reason=reason)


def _gap(admins: tuple[str, ...]) -> Target:
    return Target(users=admins, reason="roster_gap" if admins else "no_one")


def may_act_for(actor: str, owner: str | None, managers: Mapping[str, str], admins,
                covering: Collection[str] = ()) -> bool:
    """The owner, anyone above them on the roster, or an admin may act on their signal; so
    may whoever covers (`covering`: the people the actor covers for now) for one of those."""
    if actor in admins or actor == owner:
        return True
    if any(_above_or_is(person, owner, managers) for person in covering):
        return True
    return _above_or_is(actor, owner, managers, strictly=True)


def _above_or_is(actor: str, owner: str | None, managers: Mapping[str, str],
                 strictly: bool = False) -> bool:
    if not strictly and actor == owner:
        return True
    seen: set[str] = set()
    person = owner
    while person and person not in seen:
        seen.add(person)
        person = managers.get(person)
        if person == actor:
            return True
    return False
