"""The roster in Slack: admins change who manages whom; every change is an event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol.config import Config
from protocol.stages import WITH_AE
from storage.models import Person, SignalEvent
from storage.queries import managers, owners_in_stages, person


class NotAdmin(Exception):
    """Only the RevOps admins named in the config may change the roster."""


def set_manager(
    session: Session,
    config: Config,
    actor: str,
    user_id: str,
    manager_id: str | None,
    now: datetime,
) -> str | None:
    """Make `manager_id` the manager of `user_id` (None removes it); returns the previous one."""
    if actor not in config.admins:
        raise NotAdmin(actor)
    if manager_id == user_id:
        raise ValueError("A person cannot be their own manager.")
    roster = managers(session, config.managers)
    if manager_id and _reaches(roster, manager_id, user_id):
        raise ValueError("That would make a loop in the roster.")
    previous = roster.get(user_id)
    member = person(session, user_id)
    member.manager_id = manager_id
    member.manager_set_by = actor
    session.add(
        SignalEvent(
            signal_id=None,
            at=now,
            actor_id=actor,
            kind="roster_changed",
            detail={"person": user_id, "from": previous, "to": manager_id},
        )
    )
    return previous


def _reaches(roster: dict[str, str], start: str, target: str) -> bool:
    seen: set[str] = set()
    current: str | None = start
    while current and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = roster.get(current)
    return False


def roster_gaps(session: Session, config: Config) -> list[str]:
    """AEs holding open hand-offs who have no manager on the roster."""
    roster = managers(session, config.managers)
    return sorted(ae for ae in owners_in_stages(session, WITH_AE) if ae not in roster)


def known_people(session: Session) -> dict[str, Person]:
    """Everyone the bot has met, by Slack id."""
    return {p.slack_id: p for p in session.scalars(select(Person))}
