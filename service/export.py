"""Every signal as one CSV row: its stage timestamps, owners, SLA clocks and escalation count.

Rows are streamed from the database (`yield_per`), never loaded all at once, so the export
costs the same memory for a hundred signals as for a million.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from protocol.config import Config
from storage.models import Account, Deadline, Escalation, Signal

BATCH = 500
COLUMNS = (
    "signal_id", "account", "crm_id", "csm_id", "ae_id", "ownership", "urgency", "category",
    "kind", "stage", "outcome", "est_arr", "won_arr", "created_at", "handed_off_at",
    "acknowledged_at", "contacted_at", "closed_at", "ack_due_at", "ack_met_at", "ack_state",
    "contact_due_at", "contact_met_at", "contact_state", "escalations", "source",
)
SIGNAL_COLUMNS = (
    Signal.id, Account.name, Account.crm_id, Signal.csm_id, Signal.ae_id, Signal.ownership,
    Signal.urgency, Signal.category, Signal.kind, Signal.stage, Signal.outcome, Signal.est_arr,
    Signal.won_arr, Signal.created_at, Signal.handed_off_at, Signal.acknowledged_at,
    Signal.contacted_at, Signal.closed_at,
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


def export_rows(
    session: Session, since: datetime, until: datetime | None = None
) -> Iterator[list[Any]]:
    """One list of COLUMNS values per signal logged in [since, until), oldest first.

    The acknowledge and contact clocks are those of the current assignment (the signal's
    token); `escalations` counts every escalation the signal ever had.
    """
    ack, contact = aliased(Deadline), aliased(Deadline)
    escalated = (select(Escalation.signal_id, func.count().label("n"))
                 .group_by(Escalation.signal_id).subquery())
    stmt = (
        select(*SIGNAL_COLUMNS, ack.due_at, ack.met_at, ack.state, contact.due_at,
               contact.met_at, contact.state, func.coalesce(escalated.c.n, 0), Signal.source)
        .join(Account, Account.id == Signal.account_id)
        .outerjoin(ack, _clock(ack, "ack"))
        .outerjoin(contact, _clock(contact, "contact"))
        .outerjoin(escalated, escalated.c.signal_id == Signal.id)
        .where(Signal.created_at >= since)
        .order_by(Signal.created_at, Signal.id)
        .execution_options(yield_per=BATCH)
    )
    if until is not None:
        stmt = stmt.where(Signal.created_at < until)
    for row in session.execute(stmt):
        signal_id, name, crm_id, *rest = row
        yield [signal_id, _cell(name), _cell(crm_id), *(_value(v) for v in rest)]


def _clock(alias: Any, clock: str) -> Any:
    return and_(alias.signal_id == Signal.id, alias.clock == clock, alias.token == Signal.token)


def _value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def _cell(text: str | None) -> str:
    """User text for a spreadsheet cell: a leading = + - @ is quoted, never run as a formula."""
    if not text:
        return ""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def day_bounds(config: Config, since: date, until: date | None) -> tuple[datetime, datetime | None]:
    """`since` 00:00 to the end of `until` (inclusive) in config.timezone, as aware UTC."""
    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=config.timezone).astimezone(UTC)

    return midnight(since), midnight(until + timedelta(days=1)) if until else None


def write_csv(
    session: Session, config: Config, out: TextIO, since: date, until: date | None = None,
    tracker: Any = None,
) -> int:
    """Write the header and one row per signal logged from `since` to `until` (local days,
    both included); returns the number of signals written. `tracker`, when given (the CLI's
    progress), is told how many rows will come (one COUNT), then each row written."""
    start, end = day_bounds(config, since, until)
    if tracker is not None:
        total = select(func.count()).select_from(Signal).where(Signal.created_at >= start)
        if end is not None:
            total = total.where(Signal.created_at < end)
        tracker.set_total(session.scalar(total) or 0)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    count = 0
    for row in export_rows(session, start, end):
        writer.writerow(row)
        count += 1
        if tracker is not None:
            tracker.advance()
    return count
