"""An operator's view of the outbox: list rows, re-queue held ones, drop one, each recorded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.models import OutboxAction, OutboxMessage
from storage.outbox import OutboxStatus

OPEN = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD)


@dataclass
class Refused:
    """A row the command left alone, and why."""

    id: int
    reason: str


def rows(session: Session, *, statuses: Iterable[str] | None = OPEN, kind: str | None = None,
         signal_id: int | None = None, limit: int = 100) -> list[OutboxMessage]:
    """Outbox rows, oldest due first; `statuses=None` means every status."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.due_at, OutboxMessage.id).limit(limit)
    if statuses is not None:
        stmt = stmt.where(OutboxMessage.status.in_(tuple(statuses)))
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    if signal_id is not None:
        stmt = stmt.where(OutboxMessage.signal_id == signal_id)
    return list(session.scalars(stmt))


def actions(session: Session, ids: list[int]) -> dict[int, list[OutboxAction]]:
    """The recorded retries and drops of rows `ids`, oldest first."""
    found: dict[int, list[OutboxAction]] = {}
    if not ids:
        return found
    stmt = select(OutboxAction).where(OutboxAction.outbox_id.in_(ids)).order_by(OutboxAction.id)
    for action in session.scalars(stmt):
        found.setdefault(action.outbox_id, []).append(action)
    return found


def held_since(session: Session, since: datetime | None) -> list[int]:
    """Ids of held rows (due on or after `since`, when given)."""
    stmt = select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.HELD)
    if since is not None:
        stmt = stmt.where(OutboxMessage.due_at >= since)
    return list(session.scalars(stmt.order_by(OutboxMessage.id)))


def retry(session: Session, ids: list[int], actor: str, reason: str | None,
          now: datetime) -> tuple[list[int], list[Refused]]:
    """Re-queue held rows now, keeping their keys (a post Slack may have is reconciled first,
    so nothing goes twice); record who did it. Returns (re-queued ids, refused rows)."""
    done, refused = [], []
    for row_id in ids:
        row = session.get(OutboxMessage, row_id, with_for_update=True)
        if row is None:
            refused.append(Refused(row_id, "no such outbox row"))
        elif row.status != OutboxStatus.HELD:
            refused.append(Refused(row_id, f"it is {row.status}, not held"))
        else:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(
                status=OutboxStatus.PENDING, next_try_at=now, attempts=0, claimed_by=None,
                lease_until=None))
            session.add(OutboxAction(outbox_id=row_id, action="retry", actor=actor[:100],
                                     reason=reason and reason[:500], at=now))
            done.append(row_id)
    return done, refused


def drop(session: Session, row_id: int, actor: str, reason: str,
         now: datetime) -> Refused | None:
    """Stop a pending or held row for good, with the reason; None when dropped."""
    row = session.get(OutboxMessage, row_id, with_for_update=True)
    if row is None:
        return Refused(row_id, "no such outbox row")
    if row.status not in (OutboxStatus.PENDING, OutboxStatus.HELD):
        why = "a process is sending it right now; try again in a minute" \
            if row.status == OutboxStatus.SENDING else f"it is already {row.status}"
        return Refused(row_id, why)
    row.status = OutboxStatus.DROPPED
    row.last_error = f"dropped by {actor}: {reason}"[:500]
    session.add(OutboxAction(outbox_id=row_id, action="drop", actor=actor[:100],
                             reason=reason[:500], at=now))
    return None
