"""Account fields as the registry stores them, parsed from a CSV cell or a JSON value.

An absent field (a key left out, an empty CSV cell) is not parsed at all: it leaves the
stored value alone. Every parser raises ValueError with a one-line reason naming the field.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from typing import Any

COLUMNS = (
    "crm_id",
    "name",
    "csm",
    "ae",
    "plan",
    "segment",
    "seats",
    "limits",
    "billing_cycle_months",
    "contract_start",
    "renewal_date",
    "health",
    "feature_adoption",
    "open_support",
    "support_resolved_on",
)
FIELDS = COLUMNS[2:]  # what an upsert may change besides the name
USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
PRIORITY = re.compile(r"P[0-9]")
ATTRS = {"csm": "csm_id", "ae": "ae_id", "billing_cycle_months": "cycle_months"}
# Bounds every stored value stays within: what the columns and the trigger arithmetic hold.
MAX_NUMBER = 1e15  # Float columns; a ratio or a trend of two of them stays finite
MAX_COUNT = 2_000_000_000  # Integer columns (32 bits on PostgreSQL)
FIRST_YEAR, LAST_YEAR = 1900, 2200  # dates and times; timedelta arithmetic never overflows
NAME_LENGTH, CRM_ID_LENGTH, METRICS = 200, 100, 50


def parse_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed account fields (by model attribute) from raw values; raises ValueError."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        if key not in raw or (raw[key] is None and key != "open_support"):
            continue
        out[ATTRS.get(key, key)] = _PARSERS[key](raw[key], key)
    return out


def storable(value: str) -> bool:
    """No control characters and no lone surrogates: every database takes it (or looks it up)."""
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def text(value: Any, key: str, limit: int) -> str:
    """A one-line string of at most `limit` characters that every database stores as is."""
    if not isinstance(value, str):
        raise ValueError(f"{key}: must be text")
    if len(value) > limit:
        raise ValueError(f"{key}: at most {limit} characters (got {len(value):,})")
    if not storable(value):
        raise ValueError(f"{key}: contains control characters")
    return value


def account_name(value: Any, key: str = "name") -> str:
    """An account name: spaces collapsed, at most 200 characters, with a letter or digit."""
    name = " ".join(text(value, key, 10 * NAME_LENGTH).split())
    if len(name) > NAME_LENGTH or len(name.casefold()) > NAME_LENGTH:
        raise ValueError(f"{key}: at most {NAME_LENGTH} characters")
    if not any(c.isalnum() for c in name):
        raise ValueError(f"{key}: needs at least one letter or digit")
    return name


def crm_id_of(value: Any, key: str = "crm_id") -> str:
    """A CRM id: at most 100 characters, no spaces at either end."""
    return text(value, key, CRM_ID_LENGTH).strip()


def _user(value: Any, key: str) -> str | None:
    text = str(value).strip()
    if text and not USER_ID.fullmatch(text):
        raise ValueError(f"{key}: {text!r} is not a Slack user id like U0123ABCD")
    return text or None


def _text(value: Any, key: str) -> str | None:
    shown = value if isinstance(value, str) else str(value)
    return text(shown.strip()[:64], key, 64) or None


def number(value: Any, key: str, low: float | None = 0, high: float | None = None) -> float:
    """A number from JSON or text ('12,500' too); raises ValueError naming `key`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: {str(value)[:40]!r} is not a number")
    try:
        result = float(value.replace(",", "").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"{key}: {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueError(f"{key}: {str(value)[:40]!r} is not a number")
    if abs(result) > MAX_NUMBER:
        raise ValueError(f"{key}: {result:g} is beyond {MAX_NUMBER:g}")
    if low is not None and result < low:
        raise ValueError(f"{key}: {result:g} is negative" if low == 0 else f"{key}: below {low:g}")
    if high is not None and result > high:
        raise ValueError(f"{key}: {result:g} is above {high:g}")
    return result


def count(value: Any, key: str, low: int = 0, high: int = MAX_COUNT) -> int:
    """A whole number between `low` and `high`; raises ValueError naming `key`."""
    result = number(value, key, low, high)
    if result != int(result):
        raise ValueError(f"{key}: {str(value)[:40]!r} is not a whole number")
    return int(result)


def day(value: Any, key: str) -> date:
    """A date from 'YYYY-MM-DD' between 1900 and 2200; raises ValueError naming `key`."""
    try:
        result = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{key}: {str(value)[:40]!r} is not a date (YYYY-MM-DD)") from None
    return in_years(result, key)


def in_years(value: date | datetime, key: str):
    """`value` itself when its year is between 1900 and 2200; else ValueError naming `key`."""
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"{key}: {value.isoformat()} is not between {FIRST_YEAR} and {LAST_YEAR}")
    return value


def _health(value: Any, key: str) -> int:
    return round(number(value, key, 0, 100))


def _adoption(value: Any, key: str) -> float:
    text = str(value).strip()
    if isinstance(value, str) and text.endswith("%"):
        return number(text[:-1], key, 0, 100) / 100
    return number(value, key, 0, 1)


def _support(value: Any, key: str) -> str:
    text = str(value or "").strip().upper()
    if text in ("", "NONE", "0"):
        return "none"
    if not PRIORITY.fullmatch(text):
        raise ValueError(f"{key}: {value!r} is not a priority like P1, or none")
    return text


def limits(value: Any, key: str) -> dict[str, float]:
    """{'api_calls': 100000} from a mapping or from 'api_calls=100000; storage_gb=500'."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(";") if part.strip()]
        if any(len(pair) != 2 for pair in pairs):
            raise ValueError(f"{key}: write them as metric=limit; metric=limit")
        value = {k.strip(): v for k, v in pairs}
    if not isinstance(value, dict) or len(value) > METRICS:
        raise ValueError(f"{key}: expected at most {METRICS} metric=limit pairs")
    limits = {
        text(str(m), key, 100).strip(): number(v, f"{key}.{str(m)[:100]}", 0)
        for m, v in value.items()
    }
    if any(not m or v <= 0 for m, v in limits.items()):
        raise ValueError(f"{key}: every limit needs a metric name and a value above 0")
    return limits


_PARSERS = {
    "csm": _user,
    "ae": _user,
    "plan": _text,
    "segment": _text,
    "seats": count,
    "limits": limits,
    "billing_cycle_months": lambda v, k: count(v, k, 1, 36),
    "contract_start": day,
    "renewal_date": day,
    "health": _health,
    "feature_adoption": _adoption,
    "open_support": _support,
    "support_resolved_on": day,
}
