"""Durations, times of day, weekdays and weekly schedules as the file writes them."""

from __future__ import annotations

import re
from datetime import time, timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_COMPOUND = re.compile(r"\d+[smhd](?:\s*\d+[smhd])*")
_PART = re.compile(r"(\d+)([smhd])")
_DURATION_HELP = "write it like 30s, 15m, 4h, 7d or 1h30m"


def parse_duration(text: str | int) -> timedelta:
    """Parse `30s`, `15m`, `4h`, `7d`, compounds like `1h30m`, or plain seconds (`90`).

    Raises ValueError for anything else, and for durations that are not longer than zero.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    elif isinstance(text, str) and re.fullmatch(r"\s*\d+\s*", text):
        seconds = int(text)
    elif isinstance(text, str) and _COMPOUND.fullmatch(text.strip()):
        seconds = _compound_seconds(text)
    else:
        raise ValueError(f"{text!r} is not a duration; {_DURATION_HELP}")
    if seconds <= 0:
        raise ValueError(f"{text!r} is not longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long") from None


def format_duration(delta: timedelta) -> str:
    """Write a duration the way `parse_duration` reads it, e.g. `1d12h` or `30s`."""
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in sorted(_UNIT_SECONDS.items(), key=lambda item: -item[1]):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def _compound_seconds(text: str) -> int:
    parts = _PART.findall(text)
    units = [unit for _, unit in parts]
    if len(set(units)) != len(units):
        raise ValueError(f"{text!r} repeats a unit; {_DURATION_HELP}")
    return sum(int(amount) * _UNIT_SECONDS[unit] for amount, unit in parts)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _parse_clock(text: str) -> time:
    """`HH:MM` (24-hour) as a time; ValueError otherwise."""
    match = _CLOCK.fullmatch(text.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f'{text!r} is not a time of day; write it as "HH:MM", e.g. "09:00"')
    return time(int(match[1]), int(match[2]))


def _parse_weekday(text: str) -> int:
    """`mon`..`sun` (or the full English name) as 0..6; ValueError otherwise."""
    name = text.strip().lower()
    if name in _WEEKDAYS:
        return _WEEKDAYS.index(name)
    if name in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES.index(name)
    raise ValueError(f"{text!r} is not a weekday; use one of {', '.join(_WEEKDAYS)}")


def parse_schedule(text: str) -> tuple[int, time]:
    """Parse a weekly schedule like `mon 09:00` into (weekday 0=Mon, time of day)."""
    parts = text.split()
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a schedule; write a weekday and a time, e.g. mon 09:00")
    return _parse_weekday(parts[0]), _parse_clock(parts[1])
