"""Whose calendar a clock counts in: a policy's business hours with public holidays resolved.

The rules (`protocol.calendar`) only ask `day in hours.public`; this module fills `public` from
the `holidays` package. A person whose country is set in the roster (`roster.holidays`) counts
their own country's public holidays instead of the policy's; the policy's explicit dates stay.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import replace
from datetime import date

import holidays

from protocol.calendar import BusinessHours
from protocol.config import Config


def public_holidays(country: str, subdivision: str | None) -> Container[date]:
    """The public holidays of `country` (and `subdivision`); ValueError naming a bad code."""
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise ValueError(str(exc)) from None


def resolved(config: Config, hours: BusinessHours) -> BusinessHours:
    """`hours` with the public holidays of its country filled in (from the config's calendars)."""
    if hours.country is None:
        return hours
    key = (hours.country, hours.subdivision)
    calendar = config.calendars.get(key)
    if calendar is None:
        calendar = public_holidays(*key)
    return replace(hours, public=calendar)


def person_hours(config: Config, hours: BusinessHours, person: str | None) -> BusinessHours:
    """The business hours `person`'s clocks count in under a policy's `hours`.

    A country set for them in the roster replaces the policy's; otherwise the policy's calendar.
    """
    own = config.person_holidays.get(person or "")
    if own is not None:
        hours = replace(hours, country=own[0], subdivision=own[1])
    return resolved(config, hours)
