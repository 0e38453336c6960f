"""The five-field signal record as the CSM submits it, and its validation."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from protocol.catalogue import URGENCIES

LIMITS = {
    "account": 200,
    "detail": 300,
    "buyer_name": 150,
    "buyer_title": 150,
    "timeline": 300,
    "note": 3000,
    "reason": 500,
}
MAX_ARR = Decimal("1000000000")


@dataclass
class SignalDraft:
    """What the CSM typed into the modal, before it becomes a signal."""

    account: str
    category: str
    kind: str
    buyer_name: str
    timeline: str
    note: str
    urgency: str
    ae_id: str | None
    detail: str | None = None
    buyer_title: str | None = None
    timeline_date: date | None = None
    est_arr: Decimal | None = None
    answers: dict[str, bool] = field(default_factory=dict)
    source: str = "slash"
    message_link: str | None = None
    crm_id: str | None = None


def validate(draft: SignalDraft, today: date) -> dict[str, str]:
    """Problems keyed by field name; empty when the draft can be saved."""
    errors: dict[str, str] = {}
    for name in ("account", "buyer_name", "timeline", "note"):
        if not visible(getattr(draft, name) or ""):
            errors[name] = "Please fill this in."
    for name, limit in LIMITS.items():
        value = getattr(draft, name, None)
        if value and len(value) > limit:
            errors[name] = f"Keep this under {limit} characters (it has {len(value)})."
    if len(draft.account.casefold()) > LIMITS["account"] and "account" not in errors:
        errors["account"] = f"Keep this under {LIMITS['account']} characters."
    if draft.urgency not in URGENCIES:
        errors["urgency"] = "Pick Hot, Warm or Watch."
    if draft.timeline_date and draft.timeline_date < today:
        errors["timeline_date"] = (
            "This date is in the past: pick today or later, or leave it empty."
        )
    if draft.est_arr is not None and not (0 <= draft.est_arr < MAX_ARR):
        errors["est_arr"] = "Enter an amount of zero or more (annual, in your currency)."
    return errors


def visible(text: str) -> bool:
    """True when `text` has something to read: not only spaces and invisible characters
    (zero-width spaces and joiners, direction marks, soft hyphens)."""
    return any(not c.isspace() and unicodedata.category(c) not in ("Cf", "Cc", "Zs", "Mn")
               for c in text)


def parse_amount(text: str | None) -> Decimal | None:
    """'12,500' or '12500.50' -> Decimal; empty -> None; raises ValueError on garbage."""
    if text is None or not text.strip():
        return None
    cleaned = text.strip().replace(",", "").replace("$", "").replace("_", "")
    try:
        value = Decimal(cleaned)
    except ArithmeticError as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    if not value.is_finite():  # NaN, Infinity: Decimal reads them, no ARR is one
        raise ValueError(f"not an amount: {text!r}")
    return value
