"""Account fields as the registry stores them, parsed from a CSV cell or a JSON value.

An absent field (a key left out, an empty CSV cell) is not parsed at all: it leaves the
stored value alone. Every parser raises ValueError with a one-line reason naming the field.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

COLUMNS = (
    "crm_id",
    "name",
    "csm",
    "ae",
    "plan",
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


def parse_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Typed account fields (by model attribute) from raw values; raises ValueError."""
    out: dict[str, Any] = {}
    for key in FIELDS:
        if key not in raw or (raw[key] is None and key != "open_support"):
            continue
        out[ATTRS.get(key, key)] = _PARSERS[key](raw[key], key)
    return out


def _user(value: Any, key: str) -> str | None:
    text = str(value).strip()
    if text and not USER_ID.fullmatch(text):
        raise ValueError(f"{key}: {text!r} is not a Slack user id like U0123ABCD")
    return text or None


def _text(value: Any, key: str) -> str | None:
    return str(value).strip()[:64] or None


def number(value: Any, key: str, low: float | None = 0, high: float | None = None) -> float:
    """A number from JSON or text ('12,500' too); raises ValueError naming `key`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: {value!r} is not a number")
    try:
        result = float(value.replace(",", "").strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a number") from None
    if not math.isfinite(result):
        raise ValueError(f"{key}: {value!r} is not a number")
    if low is not None and result < low:
        raise ValueError(f"{key}: {result:g} is negative" if low == 0 else f"{key}: below {low:g}")
    if high is not None and result > high:
        raise ValueError(f"{key}: {result:g} is above {high:g}")
    return result


def _count(value: Any, key: str) -> int:
    result = number(value, key)
    if result != int(result):
        raise ValueError(f"{key}: {value!r} is not a whole number")
    return int(result)


def day(value: Any, key: str) -> date:
    """A date from 'YYYY-MM-DD'; raises ValueError naming `key`."""
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{key}: {value!r} is not a date (YYYY-MM-DD)") from None


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
    if not isinstance(value, dict):
        raise ValueError(f"{key}: expected metric=limit pairs")
    limits = {str(m).strip(): number(v, f"{key}.{m}", 0) for m, v in value.items()}
    if any(not m or v <= 0 for m, v in limits.items()):
        raise ValueError(f"{key}: every limit needs a metric name and a value above 0")
    return limits


_PARSERS = {
    "csm": _user,
    "ae": _user,
    "plan": _text,
    "seats": _count,
    "limits": limits,
    "billing_cycle_months": lambda v, k: _count(number(v, k, 1), k),
    "contract_start": day,
    "renewal_date": day,
    "health": _health,
    "feature_adoption": _adoption,
    "open_support": _support,
    "support_resolved_on": day,
}
