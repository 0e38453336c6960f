"""The sweep's statements: claim the due clocks, then write each kind of row in one statement.

Every function sends one statement whatever the batch holds (`storage.bulk`), so a sweep
batch costs the same number of round trips for 10 clocks or 500.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Boolean,
    Integer,
    Text,
    any_,
    bindparam,
    case,
    cast,
    literal,
    select,
)
from sqlalchemy.orm import Session

from protocol.sla import ClockState
from storage.bulk import insert_rows, update_rows
from storage.db import begin_writing, is_postgres
from storage.models import Account, Deadline, Escalation, Person, Signal, SignalEvent


class DueRow(NamedTuple):
    """A due clock as `claim_due` reads it: the `Deadline` row's columns, its owner's time
    zone (`tz`), and what the sweep needs of its signal (`signal_*`, `version`, `stage`,
    `urgency`, `csm_id`, `account`: the account's name). A plain tuple: the sweep reads each
    row's fields dozens of times, and a tuple's field is read many times faster than a
    SQLAlchemy `Row`'s."""

    id: int
    clock: str
    owner_id: str | None
    held_by: str | None  # who holds it while the owner is away
    started_at: datetime
    due_at: datetime
    state: str
    step: int
    token: int
    policy: str | None  # the snapshot of the SLA policy it started under, as JSON text
    tz: str | None
    signal_id: int
    signal_token: int
    version: int
    stage: str
    urgency: str
    csm_id: str
    account: str


def claim_due(session: Session, now: datetime, limit: int) -> list[DueRow]:
    """Up to `limit` clocks whose next step is due, oldest first, each with what the sweep
    needs of its signal and owner (`DueRow`): one statement.

    On PostgreSQL the clock and signal rows are locked `FOR UPDATE SKIP LOCKED`: replicas
    split the work, and a signal being changed right now (a click holds its row) is left to
    the next sweep, so nothing is decided on a token a click is changing; a click on a signal
    the sweep holds waits for the sweep's commit and then sees its escalations. On SQLite
    the read is made holding the write lock (`begin_writing`), which does the same for
    every row: a click's write waits for the sweep's commit.
    """
    begin_writing(session)
    stmt = (
        select(Deadline.id, Deadline.clock, Deadline.owner_id, Deadline.held_by,
               Deadline.started_at, Deadline.due_at, Deadline.state, Deadline.step,
               Deadline.token, cast(Deadline.policy, Text).label("policy"), Person.tz,
               Signal.id.label("signal_id"), Signal.token.label("signal_token"),
               Signal.version, Signal.stage, Signal.urgency, Signal.csm_id,
               Account.name.label("account"))
        .join(Signal, Signal.id == Deadline.signal_id)
        .join(Account, Account.id == Signal.account_id)
        .outerjoin(Person, Person.slack_id == Deadline.owner_id)
        .where(Deadline.next_step_at <= now)
        .order_by(Deadline.next_step_at, Deadline.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True, of=(Deadline.__table__, Signal.__table__))
    result = session.execute(stmt)
    assert tuple(result.keys()) == DueRow._fields, "claim_due's columns are DueRow's fields"
    return [DueRow._make(row) for row in result]


def signals(session: Session, ids: Iterable[int]) -> dict[int, Signal]:
    """The signals with these ids, by id (their accounts loaded)."""
    return {s.id: s for s in session.scalars(select(Signal).where(Signal.id.in_(list(ids))))}


def zones(session: Session, people: Iterable[str]) -> dict[str, str | None]:
    """The Slack time zones of `people` (the managers of a batch's clock owners): one
    statement, sent only when a batch has clocks counting in working time."""
    stmt = select(Person.slack_id, Person.tz).where(Person.slack_id.in_(list(people)))
    return {slack_id: tz for slack_id, tz in session.execute(stmt)}


def escalated(session: Session, deadline_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(deadline id, level) of the escalations already decided for these clocks.

    On PostgreSQL the ids travel as one array parameter (`= ANY`): an `IN` of 500 bound
    values is rendered, sent and parsed value by value."""
    ids = list(deadline_ids)
    among = (Escalation.deadline_id == any_(bindparam("ids", ids, type_=ARRAY(Integer))))\
        if is_postgres(session) else Escalation.deadline_id.in_(ids)
    rows = session.execute(select(Escalation.deadline_id, Escalation.level).where(among))
    return {(deadline_id, level) for deadline_id, level in rows}


def insert_escalations(session: Session, rows: list[dict[str, Any]], now: datetime
                       ) -> set[tuple[int, int]]:
    """Insert the escalations not decided before (`ON CONFLICT DO NOTHING` on deadline and
    level), decided `now`; returns (deadline id, level) of those this statement inserted."""
    table = Escalation.__table__
    inserted = insert_rows(session, table, rows, conflict=("deadline_id", "level"),
                           returning=(table.c.deadline_id, table.c.level),
                           same={"decided_at": now})
    return {(deadline_id, level) for deadline_id, level in inserted}


def add_events(session: Session, rows: list[dict[str, Any]], same: dict[str, Any]) -> None:
    """Append to the signals' event log (`SignalEvent` columns as keys; `same`: the values
    every row shares)."""
    insert_rows(session, SignalEvent.__table__, rows, same=same)


def move_clocks(session: Session, rows: list[dict[str, Any]]) -> None:
    """Move each clock on (keys `did`, `to_step`, `next_at`, `missed`): its next step, and
    `missed` when it escalated; its state is left alone otherwise."""
    table = Deadline.__table__
    types = {"to_step": Integer(), "next_at": table.c.next_step_at.type, "missed": Boolean()}
    update_rows(session, table, "did", types, rows, lambda v: {
        "step": v["to_step"], "next_step_at": v["next_at"],
        "state": case((v["missed"], literal(ClockState.MISSED.value)), else_=table.c.state)})
