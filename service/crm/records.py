"""Reads and small writes around CrmRecord: the card link, the digest's counts, backfill, retry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from blocks.text import link
from storage.lists import in_list
from storage.models import CrmRecord, OutboxMessage, Signal
from storage.outbox import OutboxStatus, Outgoing

CRM_KIND = "crm.upsert"
WEBHOOK_KIND = "webhook"
LABELS = {"hubspot": "HubSpot", "salesforce": "Salesforce"}


def card_links(session: Session, signal_ids: set[int]) -> dict[int, str | None]:
    """`<url|Open in HubSpot>` for each of `signal_ids` whose CRM record has been written,
    in one statement."""
    if not signal_ids:
        return {}
    return {record.signal_id: _label(record)
            for record in session.scalars(_RECORDS, {"ids": list(signal_ids)})}


_RECORDS = select(CrmRecord).where(in_list(CrmRecord.signal_id, "ids"))


def _label(record: CrmRecord) -> str | None:
    return link(record.url, f"Open in {LABELS.get(record.provider, 'the CRM')}")


def record_for(session: Session, signal_id: int, provider: str, now: datetime) -> CrmRecord:
    """The signal's CrmRecord, created empty on first use."""
    record = session.scalar(select(CrmRecord).where(CrmRecord.signal_id == signal_id))
    if record is None:
        record = CrmRecord(signal_id=signal_id, provider=provider, created_at=now)
        session.add(record)
        session.flush()
    return record


def crm_problems(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """What the digest shows about the CRM sync for [start, end).

    held: CRM writes refused for good (bad token, missing property) among those queued in the
    window; webhooks_held: the same for webhooks; unmatched_owners: records written in the
    window without an owner (the AE's e-mail matched no CRM user); still_held: every CRM or
    webhook row held right now, whenever it was queued (`signalbot crm retry` re-sends them).
    """
    def held(kind: str) -> int:
        return session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == kind, OutboxMessage.status == OutboxStatus.HELD,
            OutboxMessage.created_at >= start, OutboxMessage.created_at < end)) or 0

    unmatched = session.scalar(select(func.count()).select_from(CrmRecord).where(
        CrmRecord.owner_problem.is_not(None),
        CrmRecord.synced_at >= start, CrmRecord.synced_at < end)) or 0
    still = session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind.in_((CRM_KIND, WEBHOOK_KIND)),
        OutboxMessage.status == OutboxStatus.HELD)) or 0
    return {"held": held(CRM_KIND), "webhooks_held": held(WEBHOOK_KIND),
            "unmatched_owners": unmatched, "still_held": still}


def backfill_items(session: Session, since: datetime, provider: str) -> list[Outgoing]:
    """A CRM write for every signal handed off since `since` that the CRM does not hold yet."""
    synced = select(CrmRecord.signal_id).where(
        CrmRecord.synced_version.is_not(None), CrmRecord.synced_version >= Signal.version,
        CrmRecord.signal_id == Signal.id)
    rows = session.execute(
        select(Signal.id, Signal.version)
        .where(Signal.handed_off_at.is_not(None), Signal.handed_off_at >= since,
               ~synced.exists())
        .order_by(Signal.handed_off_at)
    ).all()
    return [Outgoing(key=f"crm:{signal_id}:{version}:backfill", kind=CRM_KIND,
                     target=LABELS.get(provider, provider), payload={"event": "backfill"},
                     signal_id=signal_id)
            for signal_id, version in rows]


def retry_held(session: Session, now: datetime) -> int:
    """Put every held CRM and webhook row back in the queue (after fixing the cause)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.kind.in_((CRM_KIND, WEBHOOK_KIND)),
               OutboxMessage.status == OutboxStatus.HELD)
        .values(status=OutboxStatus.PENDING, next_try_at=now, attempts=0, claimed_by=None,
                lease_until=None)
    )
    return result.rowcount or 0


def already_held(session: Session, kind: str, error: str, exclude: int) -> bool:
    """True when another row of `kind` is held with this same error (admins already told)."""
    return session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == kind, OutboxMessage.status == OutboxStatus.HELD,
        OutboxMessage.last_error == error[:500], OutboxMessage.id != exclude)) > 0
