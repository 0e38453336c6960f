"""What every CRM client offers: the `Provider` interface and what its calls return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from service.crm.mapping import DealFields, Field


@dataclass(frozen=True)
class Written:
    """The outcome of an upsert: the CRM's record id, a link to it, and whether it is new."""

    record_id: str
    url: str | None
    created: bool


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
