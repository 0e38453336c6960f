"""The account registry: upsert by CRM id (else name), type-ahead search, CSV import.

Used by `signalbot accounts import FILE.csv` and by the ingest API's `account` events. A
field that is absent (an empty CSV cell, a key left out) leaves the stored value alone.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TextIO

from sqlalchemy import case, or_, select
from sqlalchemy.orm import Session

from service.account_fields import (
    COLUMNS,
    account_name,
    crm_id_of,
    limits,
    parse_fields,
    storable,
)
from service.bulk import among, chunks, queue_accounts
from storage.cache import caches_of
from storage.models import Account
from storage.queries import name_key


@dataclass
class Upserted:
    """One upsert: the account, whether it is new, and what changed (attr -> (old, new))."""

    account: Account
    created: bool
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


class Registry:
    """Accounts by CRM id and by name, loaded in bulk for a batch of rows or events."""

    def __init__(self, session: Session, now: datetime):
        self.session, self.now = session, now
        self.by_crm: dict[str, Account] = {}
        self.by_name: dict[str, Account] = {}

    def load(self, keys: Iterable[str]) -> None:
        """Fetch every account whose CRM id or name is among `keys` (in chunks)."""
        wanted = sorted({k.strip() for k in keys if k and k.strip() and storable(k)})
        for chunk in chunks(wanted):
            names = [name_key(k) for k in chunk]
            query = select(Account).where(
                or_(
                    among(self.session, Account.crm_id, chunk),
                    among(self.session, Account.name_key, names),
                )
            )
            for account in self.session.scalars(query):
                self._remember(account)

    def _remember(self, account: Account) -> None:
        if account.crm_id:
            self.by_crm[account.crm_id] = account
        self.by_name[account.name_key] = account

    def find(self, key: str) -> Account | None:
        """The account with this CRM id or name, if loaded."""
        key = (key or "").strip()
        return self.by_crm.get(key) or self.by_name.get(name_key(key))

    def upsert(
        self,
        crm_id: str | None,
        name: str | None,
        values: dict[str, Any],
        account: Account | None = None,
    ) -> Upserted:
        """Create or update the account keyed by `crm_id` (else `name`), or `account` itself.

        Raises ValueError, before changing anything, when the name belongs to another account.
        """
        crm_id = crm_id_of(crm_id) or None if crm_id else None
        name = account_name(name) if name and name.strip() else None
        named = self.by_name.get(name_key(name)) if name else None
        if account is None:
            account = self.by_crm.get(crm_id) if crm_id else None
        if account is None and named is not None:
            if crm_id and named.crm_id and named.crm_id != crm_id:
                raise ValueError(f"the name {name!r} belongs to CRM id {named.crm_id}")
            account = named
        if account is None:
            if not name:
                raise ValueError("a new account needs a name")
            account = Account(
                name=name, name_key=name_key(name), crm_id=crm_id, created_at=self.now
            )
            self.session.add(account)
            result = Upserted(account, True, {"name": (None, name)})
        else:
            if named is not None and named is not account:
                raise ValueError(f"the name {name!r} belongs to another account")
            if crm_id and self.by_crm.get(crm_id) not in (None, account):
                raise ValueError(f"the CRM id {crm_id!r} belongs to another account")
            result = Upserted(account, False)
            if crm_id and account.crm_id != crm_id:
                result.changes["crm_id"] = (account.crm_id, crm_id)
                account.crm_id = crm_id
            keyed_by_name = not crm_id and name and name_key(name) == account.name_key
            if name and name != account.name and not keyed_by_name:  # keep its spelling
                result.changes["name"] = (account.name, name)
                account.name, account.name_key = name, name_key(name)
        for attr, value in values.items():
            if getattr(account, attr) != value:
                result.changes[attr] = (getattr(account, attr), value)
                setattr(account, attr, value)
        if result.changes:
            account.updated_at = self.now
        self._remember(account)
        return result


def search(
    session: Session, typed: str, limit: int = 20, owner: str | None = None
) -> list[tuple[str, str | None]]:
    """(name, CRM id) of accounts whose name contains `typed` (prefix matches first), or
    whose CRM id starts with it; only those `owner` is the CSM or AE of, when given."""
    raw = " ".join(typed.split())
    key = name_key(raw)
    if not key:
        return []

    def like(text: str) -> str:
        return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

    prefix = Account.name_key.like(like(key) + "%", escape="\\")
    stmt = (
        select(Account.name, Account.crm_id)
        .where(
            or_(
                Account.name_key.like(f"%{like(key)}%", escape="\\"),
                Account.crm_id.like(like(raw) + "%", escape="\\"),
            )
        )
        .order_by(case((prefix, 0), else_=1), Account.name_key)
        .limit(limit)
    )
    if owner is not None:
        stmt = stmt.where(or_(Account.csm_id == owner, Account.ae_id == owner))
    return [(name, crm_id) for name, crm_id in session.execute(stmt)]


def registry_has_accounts(session: Session) -> bool:
    """True once any account is known: the `/signal` modal then offers a type-ahead.

    A yes is kept by this process's caches (storage/cache.py) for a minute: accounts are
    not removed in practice, and the modal must open within Slack's 3 s."""
    caches = caches_of(session)
    if caches is not None and caches.registry.get("any") is True:
        return True
    found = session.scalar(select(Account.id).limit(1)) is not None
    if found and caches is not None:
        caches.registry.put("any", True)
    return found


def queue_evaluation(session: Session, account_ids: Iterable[int], now: datetime) -> None:
    """Mark accounts as having new data: the worker evaluates their triggers next."""
    queue_accounts(session, account_ids, now)


@dataclass
class ImportReport:
    """What `accounts import` did (or would do): counts, changes by line, bad rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)


def import_csv(
    session: Session, stream: TextIO, now: datetime, tracker: Any = None
) -> ImportReport:
    """Upsert every good row of an accounts CSV; bad rows are reported with their line.

    `tracker` (the CLI's progress), when given, is told the row count, then each row done.
    """
    reader = csv.DictReader(stream)
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in COLUMNS and not h.startswith("limit:")]
    if unknown or not {"crm_id", "name"} & set(header):
        raise ValueError(
            f"unknown columns {unknown}; known: {', '.join(COLUMNS)}, limit:<metric>"
            if unknown
            else "the file needs a crm_id or a name column"
        )
    rows = []
    for raw in reader:
        cells = {k.strip(): v.strip() for k, v in raw.items() if k and v and v.strip()}
        rows.append((reader.line_num, cells))
    registry = Registry(session, now)
    registry.load([c.get("crm_id", "") for _, c in rows] + [c.get("name", "") for _, c in rows])
    report, touched = ImportReport(), []
    if tracker is not None:
        tracker.set_total(len(rows))
    for line, cells in rows:
        if tracker is not None:
            tracker.advance()
        try:  # every check happens before the upsert changes anything
            per_metric = {k[6:]: v for k, v in cells.items() if k.startswith("limit:")}
            if per_metric:
                cells["limits"] = limits(per_metric, "limit")
            if not cells.get("crm_id") and not cells.get("name"):
                raise ValueError("needs a crm_id or a name")
            done = registry.upsert(cells.get("crm_id"), cells.get("name"), parse_fields(cells))
        except ValueError as exc:
            report.errors.append((line, str(exc)))
            continue
        _count_change(report, line, done)
        if done.changes:
            touched.append(done.account)
    session.flush()
    queue_evaluation(session, [account.id for account in touched], now)
    return report


def _count_change(report: ImportReport, line: int, done: Upserted) -> None:
    if done.created:
        report.created += 1
    elif done.changes:
        report.updated += 1
    else:
        report.unchanged += 1
        return
    verb = "create" if done.created else "update"
    parts = [f"{k} {_show(old)} → {_show(new)}" for k, (old, new) in done.changes.items()]
    report.changes.append((line, f"{verb} {done.account.name}: " + "; ".join(parts)))


def _show(value: Any) -> str:
    if value is None:
        return "∅"
    return value.isoformat() if isinstance(value, date) else str(value)
