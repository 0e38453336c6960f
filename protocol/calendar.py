"""When an SLA window ends: calendar time, or working time in a person's own zone.

Everything here is pure: the caller passes the moments in (no clock reading), every
datetime must be timezone-aware, and every returned datetime is aware UTC.

With business hours enabled, each working day is laid out on the person's local wall
clock (`start`..`end` on a working, non-holiday date) and converted to UTC through
zoneinfo, so DST changes shift the UTC instants rather than the local hours.
"""

from __future__ import annotations

from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class BusinessHours:
    """Working days and hours in which SLA clocks run when `enabled`.

    Clocks skip `holidays` (explicit dates) and the public holidays of `country` (ISO 3166-1
    code) and `subdivision` (its ISO 3166-2 part, e.g. ENG, CA). This module stays pure: the
    wiring resolves the country's calendar into `public` (anything answering `date in public`).
    """

    enabled: bool = False
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str | None = None
    subdivision: str | None = None
    public: Container[date] = field(default=frozenset(), compare=False, repr=False)

    def is_holiday(self, day: date) -> bool:
        """True on an explicit holiday or a public holiday of the calendar's country."""
        return day in self.holidays or day in self.public

    @property
    def calendar_label(self) -> str | None:
        """The public-holiday calendar as people write it (GB-ENG), or None."""
        if self.country is None:
            return None
        return f"{self.country}-{self.subdivision}" if self.subdivision else self.country


def deadline(
    start: datetime, window: timedelta, *, hours: BusinessHours, tz: ZoneInfo | None
) -> datetime:
    """The moment `window` of SLA time has elapsed after `start`.

    Calendar time when business hours are off; otherwise only working time in `tz`
    (UTC if None) counts, and a clock started outside working hours starts at the
    next working moment.
    """
    start = _utc(start)
    if window < timedelta(0):
        raise ValueError(f"negative SLA window: {window}")
    if not hours.enabled:
        return start + window
    remaining = window
    for opens, closes in _working_intervals(start, hours, tz):
        if opens + remaining <= closes:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: working intervals never run out")


def fraction_point(
    start: datetime, end: datetime, fraction: float, *, hours: BusinessHours, tz: ZoneInfo | None
) -> datetime:
    """The moment `fraction` of the SLA time between `start` and `end` has elapsed.

    Used for reminders (e.g. at 0.5 and 0.9 of a window). Linear in calendar mode.
    """
    if fraction < 0:
        raise ValueError(f"negative fraction: {fraction}")
    start, end = _utc(start), _utc(end)
    if not hours.enabled:
        return start + (end - start) * fraction
    span = working_time_between(start, end, hours=hours, tz=tz)
    return deadline(start, span * fraction, hours=hours, tz=tz)


def working_time_between(
    a: datetime, b: datetime, *, hours: BusinessHours, tz: ZoneInfo | None
) -> timedelta:
    """SLA time elapsed from `a` to `b` (negative if `b` is before `a`).

    Calendar time when business hours are off; otherwise only working time in `tz`.
    """
    a, b = _utc(a), _utc(b)
    if b < a:
        return -working_time_between(b, a, hours=hours, tz=tz)
    if not hours.enabled:
        return b - a
    total = timedelta(0)
    for opens, closes in _working_intervals(a, hours, tz):
        if opens >= b:
            break
        total += min(closes, b) - opens
    return total


def _working_intervals(
    start: datetime, hours: BusinessHours, tz: ZoneInfo | None
) -> Iterator[tuple[datetime, datetime]]:
    """UTC (opens, closes) working intervals from `start` on, the first clipped to it."""
    _check(hours)
    zone = tz or ZoneInfo("UTC")
    day = start.astimezone(zone).date()
    while True:
        if day.weekday() in hours.days and not hours.is_holiday(day):
            opens = datetime.combine(day, hours.start, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, hours.end, tzinfo=zone).astimezone(UTC)
            opens = max(opens, start)
            if closes > opens:  # also skips a day whose hours fall into a DST gap
                yield opens, closes
        day += timedelta(days=1)


def _check(hours: BusinessHours) -> None:
    """Reject configurations under which an SLA clock could never run."""
    if not set(hours.days) & set(range(7)):
        raise ValueError("business hours have no working days (days must include 0..6)")
    if hours.start >= hours.end:
        raise ValueError("business hours must end after they start on the same day")


def _utc(moment: datetime) -> datetime:
    """`moment` as aware UTC; naive datetimes are a bug in the caller."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime: {moment!r}")
    return moment.astimezone(UTC)
