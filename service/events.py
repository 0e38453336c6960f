"""One product event checked and turned into a `product_events` row; ValueError says why not."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from protocol.policy import Triggers
from service.account_fields import MAX_COUNT, day, in_years, number, text


def base_row(event: dict[str, Any], account_id: int, kind: str, now: datetime) -> dict[str, Any]:
    """Every column, empty: one statement inserts many rows only when they share keys."""
    event_id = event.get("id")
    return {
        "event_id": None if event_id is None else str(event_id),
        "account_id": account_id,
        "type": kind,
        "name": None,
        "value": None,
        "limit_value": None,
        "seats": None,
        "period_end": None,
        "actor": None,
        "at": now,
        "received_at": now,
    }


def event_row(account: Any, rules: Triggers, event: dict[str, Any], now: datetime) -> dict:
    """The row of a usage, active_users or gated_feature event on `account` (an `id`,
    `limits`, `seats` record; None when the account is unknown)."""
    kind = event["type"]
    if account is None:
        raise ValueError(f"unknown account {event['account'][:100]!r}")
    row = base_row(event, account.id, kind, now)
    if "at" in event:
        row["at"] = moment(event["at"], "at")
    if kind == "gated_feature":
        row["name"] = _name(event, "feature")
        user = event.get("user")
        row["actor"] = text(str(user)[:320], "user", 320) if user is not None else None
        return row
    value = number(event.get("value"), "value")
    row["value"] = value
    if kind == "usage":
        row["name"] = metric = _name(event, "metric")
        given = event.get("limit")
        limit = account.limits.get(metric)
        if given is not None:
            limit = number(given, "limit", 0)
            if limit <= 0:
                raise ValueError("limit: must be above 0")
        if "period_end" not in event and "at" not in event:
            raise ValueError("period_end: required (the billing cycle's last day)")
        end = day(event["period_end"], "period_end") if "period_end" in event else row["at"].date()
        row.update(limit_value=limit, period_end=end)
        if "at" not in event:
            row["at"] = datetime.combine(end, time(), UTC)
    else:
        seats = event.get("seats")
        limit = row["seats"] = (
            round(number(seats, "seats", 1, MAX_COUNT)) if seats is not None else None
        )
        limit = limit or account.seats
    if limit and value > rules.max_value_ratio * limit:
        raise ValueError(
            f"value: {_figure(value)} is more than {rules.max_value_ratio:g}× "
            f"the limit ({_figure(limit)})"
        )
    return row


def _figure(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.2f}"


def _name(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise ValueError(f"{key}: required, a name of at most 100 characters")
    return text(value, key, 100).strip()


def moment(value: Any, key: str) -> datetime:
    """An aware UTC time from ISO 8601 ('2026-11-20T10:00:00Z', or a bare date)."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            in_years(parsed, key)  # far enough from year 1 and 9999 to convert to UTC
            aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            return aware.astimezone(UTC)
    raise ValueError(f"{key}: {str(value)[:40]!r} is not a date-time (ISO 8601)")
