"""Section parsers for clocks and calendars.

timezone, sla, escalation, business_hours, scheduler, watch and outcome.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config.times import _parse_clock, _parse_weekday, format_duration
from bot.config.yaml_source import _NUMBER, _fail, _items, _Node, _node
from protocol.calendar import BusinessHours
from protocol.config import DEFAULT_CONFIG
from protocol.policy import SlaWindow
from service.calendars import public_holidays

_SLA_CLOCKS = {"hot": ("ack", "contact"), "warm": ("ack", "contact"), "watch": ("review",)}
_HOURS_KEYS = ("enabled", "days", "start", "end", "holidays")
_COUNTRY = re.compile(r"[A-Z]{2,3}")


def _parse_timezone(top: _Node) -> dict[str, Any]:
    name = top.get("timezone", str)
    if name is None:
        return {}
    try:
        return {"timezone": ZoneInfo(name)}
    except (ZoneInfoNotFoundError, ValueError, OSError):
        top.fail("timezone", f"unknown time zone {name!r}; use an IANA name like Europe/Berlin")


def _parse_sla(top: _Node) -> dict[str, Any]:
    node = top.child("sla", (*_SLA_CLOCKS, "reminders", "policies"))
    if node is None:
        return {}
    sla = dict(DEFAULT_CONFIG.sla)
    for urgency, clocks in _SLA_CLOCKS.items():
        sub = node.child(urgency, clocks)
        if sub is not None:
            window = sla[urgency]
            changes = {clock: sub.duration(clock, getattr(window, clock)) for clock in clocks}
            sla[urgency] = replace(window, **changes)
            _check_ack_within_contact(sub, sla[urgency])
    result: dict[str, Any] = {"sla": sla}
    reminders = _parse_reminders(node)
    if reminders is not None:
        result["reminders"] = reminders
    return result


def _check_ack_within_contact(node: _Node, window: SlaWindow) -> None:
    if window.ack and window.contact and window.contact < window.ack:
        contact, ack = format_duration(window.contact), format_duration(window.ack)
        node.fail("contact", f"{contact} is shorter than the ack window ({ack})")


def _parse_reminders(node: _Node) -> tuple[float, ...] | None:
    items = _items(node, "reminders", _NUMBER)
    if items is None:
        return None
    previous = 0.0
    for key, fraction in items:
        if not 0 < fraction < 1:
            _fail(node.file, key, f"{fraction} is not a fraction between 0 and 1 (exclusive)")
        if fraction <= previous:
            _fail(node.file, key, "reminder fractions must be in ascending order")
        previous = fraction
    return tuple(float(fraction) for _, fraction in items)


def _parse_escalation(top: _Node) -> dict[str, Any]:
    node = top.child("escalation", ("repeat_after",))
    if node is None:
        return {}
    return {"escalation_repeat": node.duration("repeat_after", DEFAULT_CONFIG.escalation_repeat)}


def _parse_business_hours(top: _Node) -> dict[str, Any]:
    node = top.child("business_hours", _HOURS_KEYS)
    if node is None:
        return {}
    return {"business_hours": _business_hours(node, DEFAULT_CONFIG.business_hours)}


def _business_hours(node: _Node, default: BusinessHours) -> BusinessHours:
    """A `business_hours` mapping; keys left out keep `default`'s."""
    start = _clock_setting(node, "start", default.start)
    end = _clock_setting(node, "end", default.end)
    if end <= start:
        node.fail("end", f"the working day ends ({end:%H:%M}) before it starts ({start:%H:%M})")
    dates, country, subdivision = _holidays(node, default)
    return BusinessHours(
        enabled=node.get("enabled", bool, default.enabled),
        days=_weekday_list(node, default.days),
        start=start,
        end=end,
        holidays=dates,
        country=country,
        subdivision=subdivision,
        public=default.public if country == default.country else frozenset(),
    )


def _clock_setting(node: _Node, name: str, default: time) -> time:
    value = node.get(name, (str, int))
    if value is None:
        return default
    if isinstance(value, int):
        node.fail(name, f'got the number {value}; write the time in quotes, e.g. "09:00"')
    try:
        return _parse_clock(value)
    except ValueError as exc:
        node.fail(name, str(exc))


def _weekday_list(node: _Node, default: tuple[int, ...]) -> tuple[int, ...]:
    items = _items(node, "days", str)
    if items is None:
        return default
    if not items:
        node.fail("days", "needs at least one working day")
    days: list[int] = []
    for key, text in items:
        try:
            day = _parse_weekday(text)
        except ValueError as exc:
            _fail(node.file, key, str(exc))
        if day in days:
            _fail(node.file, key, f"{text!r} is listed twice")
        days.append(day)
    return tuple(sorted(days))


def _holidays(
    node: _Node, default: BusinessHours
) -> tuple[frozenset[date], str | None, str | None]:
    """`holidays:` as a list of dates, or {country, subdivision, dates}: (dates, country, sub)."""
    value = node.get("holidays", (list, dict))
    if value is None:
        return default.holidays, default.country, default.subdivision
    if isinstance(value, list):
        return _dates(node, "holidays"), None, None
    sub = _node(node.file, node.key("holidays"), value, ("country", "subdivision", "dates"))
    country, subdivision = holiday_calendar(sub)
    return _dates(sub, "dates"), country, subdivision


def holiday_calendar(node: _Node) -> tuple[str | None, str | None]:
    """`country` and `subdivision` of a holiday calendar, checked against `holidays`."""
    country = node.get("country", str)
    subdivision = node.get("subdivision", (str, int))
    if country is None:
        if subdivision is not None:
            node.fail("subdivision", "needs a country too (e.g. country: GB, subdivision: ENG)")
        return None, None
    if not _COUNTRY.fullmatch(country):
        node.fail("country", f"{country!r} is not a country code; write the ISO 3166-1 code "
                  "in capitals, e.g. GB, US, DE")
    subdivision = None if subdivision is None else str(subdivision)
    try:
        public_holidays(country, subdivision)
    except ValueError as exc:
        node.fail("subdivision" if subdivision and "subdivision" in str(exc) else "country",
                  f"{exc} (the holidays package's codes: ISO 3166-1 and 3166-2)")
    return country, subdivision


def _dates(node: _Node, name: str) -> frozenset[date]:
    items = _items(node, name, (date, str))
    if items is None:
        return frozenset()
    holidays = set()
    for key, value in items:
        try:
            holidays.add(value if isinstance(value, date) else date.fromisoformat(value))
        except ValueError:
            _fail(node.file, key, f"{value!r} is not a date; write it as YYYY-MM-DD")
    return frozenset(holidays)


def _parse_scheduler(top: _Node) -> dict[str, Any]:
    node = top.child("scheduler", ("sweep_interval",))
    if node is None:
        return {}
    return {"sweep_interval": node.duration("sweep_interval", DEFAULT_CONFIG.sweep_interval)}


def _parse_watch(top: _Node) -> dict[str, Any]:
    node = top.child("watch", ("revisit",))
    if node is None:
        return {}
    return {"watch_revisit": node.duration("revisit", DEFAULT_CONFIG.watch_revisit)}


def _parse_outcome(top: _Node) -> dict[str, Any]:
    node = top.child("outcome", ("reminder_after",))
    if node is None:
        return {}
    return {"outcome_reminder": node.duration("reminder_after", DEFAULT_CONFIG.outcome_reminder)}


def _parse_extension(top: _Node) -> dict[str, Any]:
    node = top.child("extension", ("max",))
    if node is None:
        return {}
    longest = node.duration("max", DEFAULT_CONFIG.extension_max)
    if longest < timedelta(days=1):
        node.fail("max", "must be at least 1d (the new contact date is picked as a day)")
    return {"extension_max": longest}
