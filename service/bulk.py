"""Bulk reads and writes for ingest, fast on both databases.

PostgreSQL gets one array parameter (`= ANY(:keys)`, `unnest(...)`) instead of thousands of
placeholders, which psycopg would otherwise parse anew for every long statement; SQLite gets
plain `IN (...)` lists and `executemany`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, text
from sqlalchemy.orm import Session

from storage.db import insert_for, is_postgres
from storage.models import ProductEvent, TriggerQueue

EVENT_COLUMNS = {  # product_events column -> its PostgreSQL type
    "event_id": "varchar",
    "account_id": "integer",
    "type": "varchar",
    "name": "varchar",
    "value": "float8",
    "limit_value": "float8",
    "seats": "integer",
    "period_end": "date",
    "actor": "varchar",
    "at": "timestamptz",
    "received_at": "timestamptz",
}
_UNNEST_EVENTS = text(
    f"INSERT INTO product_events ({', '.join(EVENT_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in EVENT_COLUMNS.items())
    + ") ON CONFLICT (event_id) DO NOTHING RETURNING account_id, type"
)
_UNNEST_QUEUE = text(
    "INSERT INTO trigger_queue (account_id, queued_at) SELECT unnest(CAST(:ids AS integer[])), :now"
)


def among(session: Session, column, values: Iterable[Any], integer: bool = False):
    """`column IN values`: one array parameter on PostgreSQL."""
    values = list(values)
    if is_postgres(session):
        kind = ARRAY(Integer if integer else String)
        return column == any_(bindparam(None, values, type_=kind))
    return column.in_(values)


def chunks(values: list[Any], size: int = 500) -> Iterable[list[Any]]:
    """`values` in pieces (SQLite limits the placeholders of one statement)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_events(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert events, skipping ids stored before; (account id, type) of those inserted."""
    if not rows:
        return []
    if is_postgres(session):
        params = {column: [row[column] for row in rows] for column in EVENT_COLUMNS}
        return [(a, kind) for a, kind in session.execute(_UNNEST_EVENTS, params)]
    table = ProductEvent.__table__
    statement = (
        insert_for(session, table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.account_id, table.c.type)
    )
    return [(a, kind) for a, kind in session.connection().execute(statement, rows)]


def queue_accounts(session: Session, account_ids: Iterable[int], now: datetime) -> None:
    """One evaluation-queue row per account."""
    ids = sorted(set(account_ids))
    if not ids:
        return
    if is_postgres(session):
        session.execute(_UNNEST_QUEUE, {"ids": ids, "now": now})
        return
    rows = [{"account_id": i, "queued_at": now} for i in ids]
    session.execute(TriggerQueue.__table__.insert(), rows)
