"""Ingest product events: validate each, store the good ones, mark their accounts for evaluation.

One call takes one batch (an API request, or a chunk of a nightly file): account lookups are
one query, the events one batched `INSERT … ON CONFLICT DO NOTHING` (`service.bulk`).
Triggers are not evaluated here: the accounts touched go on the evaluation queue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from protocol.policy import Triggers
from service.account_fields import parse_fields, storable, text
from service.accounts import Registry, queue_evaluation
from service.bulk import among, chunks, store_events
from service.events import base_row, event_row
from storage.models import Account, ProductEvent
from storage.queries import name_key

TYPES = ("usage", "active_users", "gated_feature", "account")
MAX_DEPTH = 8  # a request is {"events": [{..., "limits": {...}}]}: four levels


def parse_json(raw: bytes | str) -> Any:
    """JSON of at most `MAX_DEPTH` levels; ValueError with a one-line reason otherwise."""
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON ({str(exc).splitlines()[0][:80]})") from None
    level, todo = 0, [data]
    while todo:
        level += 1
        if level > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        todo = [
            child
            for item in todo
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return data


@dataclass
class Ingested:
    """The answer: how many events were stored, how many were seen before, which were bad."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "error"}

    def as_dict(self) -> dict[str, Any]:
        """The API's JSON body."""
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


class Ref(NamedTuple):
    """What a data event needs of its account."""

    id: int
    limits: dict[str, float]
    seats: int | None


class Known:
    """Accounts by CRM id and by name, as data events need them; kept across the batches of
    one file, so a nightly load looks each account up once."""

    def __init__(self) -> None:
        self.by_crm: dict[str, Ref] = {}
        self.by_name: dict[str, Ref] = {}

    def find(self, key: str) -> Ref | None:
        """The account with this CRM id or name, if loaded."""
        key = key.strip()
        return self.by_crm.get(key) or self.by_name.get(name_key(key))

    def load(self, session: Session, keys: Iterable[str]) -> None:
        """Fetch the accounts named by `keys` that are not known yet."""
        wanted = sorted(
            {k.strip() for k in keys if k.strip() and storable(k) and self.find(k) is None}
        )
        columns = (Account.id, Account.crm_id, Account.name_key, Account.limits, Account.seats)
        for chunk in chunks(wanted):
            names = [name_key(k) for k in chunk]
            stmt = select(*columns).where(
                or_(among(session, Account.crm_id, chunk), among(session, Account.name_key, names))
            )
            for account_id, crm_id, key, limits, seats in session.execute(stmt):
                ref = Ref(account_id, limits or {}, seats)
                if crm_id:
                    self.by_crm[crm_id] = ref
                self.by_name[key] = ref


def ingest(
    session: Session,
    rules: Triggers,
    events: list[Any],
    now: datetime,
    known: Known | None = None,
) -> Ingested:
    """Validate and store `events`; bad ones are rejected by index, good ones all kept.

    Account events are applied first (a later event in the batch may need the account).
    """
    result, known = Ingested(), known if known is not None else Known()
    seen = _seen_ids(session, events)
    updates = [(i, e) for i, e in enumerate(events) if _is_update(e)]
    applied, touched = _apply_accounts(session, updates, seen, result, now)
    if applied:
        known.__init__()  # limits or seats may have changed
    # an account event is stored too (no data): its id then stops a replay from applying twice
    markers = [base_row(e, a.id, "account", now) for e, a in applied if e.get("id") is not None]
    data = [(i, e) for i, e in enumerate(events) if not _is_update(e)]
    known.load(
        session,
        (
            e["account"]
            for _, e in data
            if isinstance(e, dict) and isinstance(e.get("account"), str)
        ),
    )
    rows: list[dict[str, Any]] = []
    for index, event in data:
        try:
            if _kind(event) == "account" or _is_duplicate(event, seen, result):
                continue
            rows.append(event_row(known.find(event["account"]), rules, event, now))
        except ValueError as exc:
            result.rejected.append({"index": index, "error": str(exc)})
    stored = [a for a, kind in store_events(session, markers + rows) if kind != "account"]
    result.accepted = len(applied) + len(stored)
    result.duplicates += len(rows) - len(stored)  # stored meanwhile by a concurrent request
    result.rejected.sort(key=lambda r: r["index"])
    queue_evaluation(session, touched | set(stored), now)
    return result


def _is_update(event: Any) -> bool:
    return isinstance(event, dict) and event.get("type") == "account"


def _apply_accounts(
    session: Session, updates: list, seen: set[str], result: Ingested, now: datetime
) -> tuple[list[tuple[dict, Account]], set[int]]:
    """Apply the `account` events; (event, account) of each applied, ids of those changed."""
    if not updates:
        return [], set()
    registry = Registry(session, now)
    registry.load(e["account"] for _, e in updates if isinstance(e.get("account"), str))
    applied: list[tuple[dict[str, Any], Account]] = []
    changed: list[Account] = []
    for index, event in updates:
        try:
            if _kind(event) != "account" or _is_duplicate(event, seen, result):
                continue
            account, did_change = _apply_account(registry, event)
            applied.append((event, account))
            if did_change:
                changed.append(account)
        except ValueError as exc:
            result.rejected.append({"index": index, "error": str(exc)})
    session.flush()  # new accounts get their ids
    return applied, {a.id for a in changed}


def _kind(event: Any) -> str:
    if not isinstance(event, dict):
        raise ValueError("an event must be a JSON object")
    kind = event.get("type")
    if kind not in TYPES:
        shown = "missing type" if kind is None else f"unknown type {str(kind)[:40]!r}"
        raise ValueError(f"{shown} (known: {', '.join(TYPES)})")
    account = event.get("account")
    if not isinstance(account, str) or not account.strip():
        raise ValueError("account: required (a CRM id or an account name)")
    event_id = event.get("id")
    if event_id is not None and (
        not isinstance(event_id, str | int)
        or isinstance(event_id, bool)
        or len(str(event_id)) > 200
    ):
        raise ValueError("id: must be a string of at most 200 characters")
    if event_id is not None:
        text(str(event_id), "id", 200)
    return kind


def _seen_ids(session: Session, events: list[Any]) -> set[str]:
    ids = [str(e["id"]) for e in events if isinstance(e, dict) and e.get("id") is not None]
    ids = [i for i in ids if storable(i)]
    seen: set[str] = set()
    for chunk in chunks(ids):
        query = select(ProductEvent.event_id).where(among(session, ProductEvent.event_id, chunk))
        seen.update(session.scalars(query))
    return seen


def _is_duplicate(event: dict[str, Any], seen: set[str], result: Ingested) -> bool:
    """True (and counted) when the event's id was seen before, in the store or this batch."""
    if event.get("id") is None:
        return False
    event_id = str(event["id"])
    if event_id in seen:
        result.duplicates += 1
        return True
    seen.add(event_id)
    return False


def _apply_account(registry: Registry, event: dict[str, Any]) -> tuple[Account, bool]:
    """Create or update the account an `account` event names; and whether anything changed."""
    key, name = event["account"].strip(), event.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError("name: must be a non-empty string")
    values = parse_fields(event)
    found = registry.find(key)
    if found is not None:
        done = registry.upsert(None, name, values, account=found)
    elif name and name_key(name) != name_key(key):
        done = registry.upsert(key, name, values)  # `account` is the CRM id
    else:
        done = registry.upsert(None, name or key, values)
    return done.account, bool(done.changes)
