"""What every CRM client offers: the `Provider` interface and what its calls return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol

from service.crm.mapping import DealFields, Field


@dataclass(frozen=True)
class Written:
    """The outcome of an upsert: the CRM's record id, a link to it, and whether it is new."""

    record_id: str
    url: str | None
    created: bool


@dataclass(frozen=True)
class DealChange:
    """A deal as a poll read it: the signal it names, and the fields signalbot follows."""

    signal_key: str  # the external-id value (the signal's id, as text)
    record_id: str
    stage: str | None
    amount: Decimal | None
    owner: str | None  # the CRM owner/user id
    owner_email: str | None
    modified_at: datetime

    @property
    def state(self) -> dict[str, str | None]:
        """What is compared with `CrmRecord.crm_state` (amounts normalised, as text)."""
        return {"stage": self.stage, "amount": amount_text(self.amount), "owner": self.owner}


@dataclass(frozen=True)
class Page:
    """One page of changed deals, oldest first; `cursor` fetches the next page (None: done)."""

    changes: list[DealChange]
    cursor: str | None


def parse_amount(value: Decimal | float | str | None) -> Decimal | None:
    """An amount from a CRM answer (text or number); None when absent or not a number."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def amount_text(value: Decimal | float | str | None) -> str | None:
    """An amount as comparable text ('48000', '1250.5'); None when absent or not a number."""
    number = parse_amount(value)
    return None if number is None else format(number.normalize(), "f")


@dataclass
class Inspection:
    """What `signalbot crm check` found: (ok, text) lines and the fields still to create."""

    target: str
    lines: list[tuple[bool, str]] = field(default_factory=list)
    missing: list[Field] = field(default_factory=list)
    definitions: str = ""

    def add(self, ok: bool, text: str) -> bool:
        """Record one finding; returns `ok`."""
        self.lines.append((ok, text))
        return ok

    @property
    def ok(self) -> bool:
        """True when nothing is missing or wrong."""
        return all(ok for ok, _ in self.lines)


class Provider(Protocol):
    """A CRM client; every method raises http.Transient / http.Permanent on failure."""

    label: str
    needs_close_date: bool

    def owner_id(self, email: str) -> str | None:
        """The CRM user/owner id with this e-mail, or None."""

    def company_id(self, crm_id: str | None, name: str) -> str | None:
        """The company/account record by CRM id, else by exact name (only if unique)."""

    def upsert(self, deal: DealFields, owner: str | None, company: str | None,
               associate: bool) -> Written:
        """Create or update the deal keyed by `deal.external_id`."""

    def inspect(self, emails: dict[str, str]) -> Inspection:
        """Check token, pipeline, stages, custom fields and owners (Slack id -> e-mail)."""

    def changes(self, since: datetime | None, cursor: str | None) -> Page:
        """Deals carrying a signal id modified at or after `since`, oldest first, one page."""
