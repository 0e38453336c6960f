"""What the trigger rules read and say: one account's product data, and a firing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

EPS = 1e-9  # float slack, so 85 of 100 seats is "at 85%" exactly
MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class UsagePoint:
    """A metered metric's value for one billing cycle, and that cycle's limit."""

    period_end: date
    value: float
    limit: float | None


@dataclass(frozen=True)
class Reading:
    """Active users at a moment, and the seats bought then (None: the account's)."""

    at: datetime
    users: float
    seats: int | None = None


@dataclass(frozen=True)
class Attempt:
    """Someone at the account tried a gated feature."""

    at: datetime
    feature: str
    user: str | None = None


@dataclass
class AccountData:
    """What the rules know of one account: its registry entry and its product data."""

    name: str
    health: int | None = None
    feature_adoption: float | None = None
    open_support: str | None = None
    support_resolved_on: date | None = None
    contract_start: date | None = None
    renewal_date: date | None = None
    seats: int | None = None
    cycle_months: int | None = None
    usage: dict[str, list[UsagePoint]] = field(default_factory=dict)  # by period_end
    readings: list[Reading] = field(default_factory=list)  # by time
    attempts: list[Attempt] = field(default_factory=list)  # by time


@dataclass(frozen=True)
class Firing:
    """A rule that holds: what to tell the CSM, and what a logged signal starts with."""

    kind: str
    subject: str | None
    episode: str
    urgency: str
    text: str
    detail: str
    figures: dict = field(default_factory=dict)


def day(d: date, today: date | None = None) -> str:
    """'12 January' (with the year when it is not this year's)."""
    text = f"{d.day} {d:%B}"
    return text if today is not None and d.year == today.year else f"{text} {d.year}"
