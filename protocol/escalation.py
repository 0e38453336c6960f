"""Who hears about a missed SLA: the AE's manager, then one level up, else the admins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """The people an escalation goes to, and why them."""

    users: tuple[str, ...]
    reason: str  # manager | manager_of_manager | roster_gap | no_one


def escalation_target(
    ae_id: str | None, level: int, managers: Mapping[str, str], admins: tuple[str, ...]
) -> Target:
    """Walk `level` steps up the roster from the AE; fall back to the admins at a gap."""
    person = ae_id
    for _ in range(level):
        boss = managers.get(person) if person else None
        if not boss or boss == person:
            return Target(users=admins, reason="roster_gap" if admins else "no_one")
        person = boss
    return Target(users=(person,), reason="manager" if level == 1 else "manager_of_manager")


def may_act_for(actor: str, owner: str | None, managers: Mapping[str, str], admins) -> bool:
    """The owner, anyone above them on the roster, or an admin may act on their signal."""
    if actor in admins or actor == owner:
        return True
    seen: set[str] = set()
    person = owner
    while person and person not in seen:
        seen.add(person)
        person = managers.get(person)
        if person == actor:
            return True
    return False
