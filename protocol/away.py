"""Away and cover: who acts for a person who is away, and who hears their escalations.

A person who is away names a *cover* for the dates. While away, the cover is the *acting AE*
(or the acting manager): the cards, reminders and buttons go to them, the AE stays the owner
of record. With no cover, an AE's hand-offs go to their manager at once. All rules here are
pure: they take the roster, the away periods in force at `now` (person -> cover, or None)
and the admins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from protocol.escalation import escalation_target

Away = Mapping[str, str | None]  # who is away now -> their cover (None: no cover)


class Acts(StrEnum):
    """Who holds a person's work while they are away (stored in event details)."""

    SELF = "self"  # not away
    COVER = "cover"  # the cover, as acting AE / acting manager
    MANAGER = "manager"  # no cover: the manager (or the first one up who is in)
    ADMINS = "admins"  # no cover and no manager: the admins


class Role(StrEnum):
    """A person's role for cover: an AE covers for an AE, a manager for a manager."""

    AE = "ae"
    MANAGER = "manager"


@dataclass(frozen=True)
class Acting:
    """Who acts for `person` now, and as what."""

    person: str
    acts: Acts
    users: tuple[str, ...]  # who gets the work: one person, or the admins

    @property
    def holder(self) -> str | None:
        """The one person holding the person's clocks, or None (the person themselves)."""
        if self.acts in (Acts.COVER, Acts.MANAGER):
            return self.users[0]
        return None


@dataclass(frozen=True)
class Period:
    """An away period as plain data: [starts, ends), with an optional cover."""

    person: str
    starts: datetime
    ends: datetime
    cover: str | None = None


def away_at(periods: list[Period], now: datetime) -> dict[str, str | None]:
    """The people away at `now` (start included, end excluded) -> their cover."""
    return {p.person: p.cover for p in periods if p.starts <= now < p.ends}


def final_cover(person: str, away: Away) -> str | None:
    """The person's cover, following a cover who is away to their own cover; None if the
    chain ends with nobody in (or loops)."""
    seen = {person}
    cover = away.get(person)
    while cover is not None and cover in away:
        if cover in seen:
            return None
        seen.add(cover)
        cover = away[cover]
    return cover


def acting_for(person: str, roster: Mapping[str, str], away: Away,
               admins: tuple[str, ...]) -> Acting:
    """Who acts for `person` now: themselves when in; else their cover; else (no cover) the
    manager, skipping managers who are away to their cover or one level up; else the admins."""
    if person not in away:
        return Acting(person, Acts.SELF, (person,))
    cover = final_cover(person, away)
    if cover is not None:
        return Acting(person, Acts.COVER, (cover,))
    target = escalation_target(person, 1, roster, admins, away)
    if target.reason in ("roster_gap", "no_one"):
        return Acting(person, Acts.ADMINS, target.users)
    return Acting(person, Acts.MANAGER, target.users)


def role_of(person: str, roster: Mapping[str, str], csm: bool = False) -> Role | None:
    """A manager has someone reporting to them on the roster; someone known only as a CSM
    (`csm`: they log signals or own accounts as CSM, and never hold them as AE) has no role
    here; anyone else is an AE."""
    if any(boss == person for p, boss in roster.items() if p != person):
        return Role.MANAGER
    return None if csm else Role.AE


def covering(actor: str, away: Away) -> set[str]:
    """The people `actor` is covering for now (directly or along a chain of covers)."""
    return {person for person in away if final_cover(person, away) == actor}


def cover_problem(person: str, cover: str | None, roster: Mapping[str, str],
                  inactive: bool, cover_is_csm: bool = False) -> str | None:
    """Why `cover` cannot cover for `person` (a sentence), or None when they can
    (`cover_is_csm`: the cover is known only as a CSM, see `role_of`)."""
    if cover is None:
        return None
    if cover == person:
        return "The cover must be someone else: pick a colleague who is in."
    if inactive:
        return "That cover is deactivated in Slack: pick someone who is active."
    need, has = role_of(person, roster), role_of(cover, roster, cover_is_csm)
    if has is None:
        return ("That cover is a CSM here: an AE is covered by an AE and a manager by a "
                "manager.")
    if need != has:
        return (f"An AE is covered by an AE and a manager by a manager: this cover is "
                f"{'a manager' if has == Role.MANAGER else 'an AE'}.")
    return None


def period_bounds(first: date | None, last: date, now: datetime, tz: ZoneInfo
                  ) -> tuple[datetime, datetime]:
    """[starts, ends) of an absence from `first` (None: now) through the whole of `last`,
    both days in the person's time zone. Raises ValueError with a sentence when wrong."""
    ends = datetime.combine(last + timedelta(days=1), time(0), tz)
    starts = now if first is None else datetime.combine(first, time(0), tz)
    if ends <= now:
        raise ValueError(f"{last.isoformat()} has already passed: the last day away must be "
                         "today or later.")
    if starts >= ends:
        raise ValueError("The first day away must be on or before the last day.")
    if ends - starts > MAX_AWAY:
        raise ValueError(f"An away period is at most {MAX_AWAY.days} days: set a shorter one "
                         "(or ask an admin to change the roster).")
    return max(starts, now), ends


MAX_AWAY = timedelta(days=366)


def last_day(ends: datetime, tz: ZoneInfo) -> date:
    """The last day away, in the person's time zone (`ends` is exclusive)."""
    return (ends.astimezone(tz) - timedelta(microseconds=1)).date()


def day_label(day: date) -> str:
    """'24 Dec': a day as people write it."""
    return f"{day.day} {day:%b}"


def overlaps(a_starts: datetime, a_ends: datetime, b_starts: datetime, b_ends: datetime) -> bool:
    """True when [a_starts, a_ends) and [b_starts, b_ends) share a moment."""
    return a_starts < b_ends and b_starts < a_ends
