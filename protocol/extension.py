"""Asking for more time on the customer-contact SLA: which new deadlines may be asked for.

An extension is not a pause: the contact clock runs while the request waits, and only an
approval moves the deadline. The rules here are pure; `service.extensions` applies them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

EXTENDED_CLOCK = "contact"  # the one clock an extension moves


class ExtensionState(StrEnum):
    """Where an extension request stands (stored in `extensions.state`)."""

    PENDING = "pending"
    APPROVED = "approved"
    DECLINED = "declined"
    LAPSED = "lapsed"  # the deadline passed, or the clock stopped, before anyone answered


def latest_allowed(current_due: datetime, now: datetime, max_extension: timedelta) -> datetime:
    """The latest new deadline a request may ask for: `max_extension` past the current
    deadline (or past now, if the deadline is already behind us)."""
    return max(current_due, now) + max_extension


def new_deadline(day: date, current_due: datetime, tz: ZoneInfo) -> datetime:
    """The new contact deadline for a picked `day`: the same time of day as the current
    deadline, in the AE's time zone (a 2 pm deadline stays a 2 pm deadline)."""
    local = current_due.astimezone(tz)
    moved = datetime.combine(day, time(local.hour, local.minute), tzinfo=tz)
    return moved.astimezone(current_due.tzinfo)


def check_new_day(
    day: date, current_due: datetime, now: datetime, tz: ZoneInfo, max_extension: timedelta
) -> str | None:
    """Why `day` cannot be the new contact date, or None when it can."""
    local_now = now.astimezone(tz)
    if day < local_now.date():
        return "That date is in the past: pick a later one."
    proposed = new_deadline(day, current_due, tz)
    if proposed <= current_due:
        due_day = current_due.astimezone(tz).date().isoformat()
        return f"Contact is already due by {due_day}: pick a later date."
    latest = latest_allowed(current_due, now, max_extension)
    if proposed > latest:
        return (f"At most {_days(max_extension)} more: pick {latest.astimezone(tz).date()} "
                "or earlier.")
    return None


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} day" + ("" if days == 1 else "s")
