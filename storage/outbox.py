"""Outbox queries: enqueue with the state change, claim what is due, finish fenced by claim."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from storage.bulk import executemany, insert_rows, recordset, rows_param
from storage.db import begin_writing, is_postgres
from storage.lists import in_list, not_in_list
from storage.models import OutboxMessage

POST_KIND = "slack.post"  # a message posted to a conversation: paced, and a card among them


class OutboxStatus(StrEnum):
    """Where an outbox row stands."""

    PENDING = "pending"  # waiting for its due time or its next try
    SENDING = "sending"  # claimed by a deliverer (its lease says until when)
    SENT = "sent"
    HELD = "held"  # refused for good (a semantic error): an admin was told, `retry` re-queues
    SKIPPED = "skipped"  # no longer applies (the clock was met, the person is gone)
    DROPPED = "dropped"  # `signalbot outbox drop`: never sent (outbox_actions says who, why)


@dataclass
class Outgoing:
    """A message to write into the outbox; `key` names it so deciding twice sends once."""

    key: str
    kind: str
    target: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    signal_id: int | None = None
    guard_deadline_id: int | None = None
    due_at: datetime | None = None


def enqueue(session: Session, items: list[Outgoing], now: datetime) -> None:
    """Insert all `items` in one statement; a key already present is left as it is.

    What every row shares (pending, no attempt yet, written now, and due now unless an item
    says when) is sent once with the statement, not with each row.
    """
    if not items:
        return
    same: dict[str, Any] = {"status": OutboxStatus.PENDING.value, "attempts": 0,
                            "created_at": now}
    rows = [{"key": item.key, "kind": item.kind, "target": item.target,
             "payload": item.payload, "signal_id": item.signal_id,
             "guard_deadline_id": item.guard_deadline_id} for item in items]
    if all(item.due_at is None for item in items):
        same["due_at"] = same["next_try_at"] = now
    else:
        for row, item in zip(rows, items, strict=True):
            row["due_at"] = row["next_try_at"] = item.due_at or now
    insert_rows(session, OutboxMessage.__table__, rows, conflict=["key"], same=same)


def queued(session: Session, key: str) -> bool:
    """True when a message with this key was ever enqueued (sent or not)."""
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is not None


_OUTBOX = OutboxMessage.__table__

# Of the rows due at one moment (a sweep's batch), a manager's escalation card goes before
# the notices to the AE and the CSM decided with it: after an outage the managers hear first.
_ESCALATIONS_FIRST = case((_OUTBOX.c.payload["audience"].as_string() == "manager", 0), else_=1)


def claim_due(
    session: Session, *, now: datetime, worker: str, limit: int, lease: timedelta,
    skip_slack: bool = False, room: Mapping[str, int] | None = None,
) -> list[Row[Any]]:
    """Mark up to `limit` due rows as `sending` for `worker`, oldest due first (and of rows
    due at the same moment, managers' escalation cards first); returns them in that order,
    every column as the claim left it (attempts counted, `sending`), as plain rows.

    Pending rows whose time has come, and `sending` rows whose lease ran out (their
    process died mid-send), are both taken; the caller reconciles the latter before
    resending. `skip_slack` leaves Slack rows alone (delivery is paused). The status
    literals stay in the SQL text so PostgreSQL can use the partial indexes.

    Rows with the same `target` form a lane (one conversation, one CRM, one webhook host)
    and go in order, one claimer at a time: a lane with a row in flight or waiting for its
    retry is left alone, and a row is taken only with every earlier open row of its lane
    (see `_lane_prefixes`), so two claimers never send into one conversation at once.

    Three statements when no CRM write or card refresh is due (a fourth when one is): the
    due rows locked, their lanes read, and one UPDATE … RETURNING for those taken. On SQLite
    the write lock is taken before the first of them (`begin_writing`), unless the caller's
    transaction wrote already: there the lock is what keeps two claimers apart.
    """
    begin_writing(session)  # SQLite: what is read below is what is marked
    stmt = _DUE_LOCKED if is_postgres(session) else _DUE
    if skip_slack:  # Slack delivery is paused; CRM and webhook rows still go
        stmt = stmt.where(_OUTBOX.c.kind.not_like("slack.%"))
    spent = [target for target, n in (room or {}).items() if n <= 0]
    due = session.execute(stmt, {"now": now, "spent": spent, "limit": limit}).all()
    if not skip_slack:  # paused: a CRM write goes without the card's link, as it must
        due = _after_their_posts(session, due)
    taken = [row.id for row in _within_room(_lane_prefixes(session, due), room)]
    if not taken:
        return []
    claimed = {row.id: row for row in session.execute(
        _CLAIM, {"ids": taken, "worker": worker, "lease_until": now + lease, "now": now})}
    return [claimed[row_id] for row_id in taken]


def _is(status: OutboxStatus) -> ColumnElement[bool]:
    """`status = '<literal>'`, as a partial index's predicate is written."""
    return _OUTBOX.c.status == literal_column(f"'{status.value}'")


def _busy_lanes() -> Select[Any]:
    """Targets with a row in flight (claimed, lease live) or due but waiting for its next
    try (a retry's backoff, a 429's Retry-After, pacing): their later rows must wait."""
    return select(_OUTBOX.c.target).distinct().where(
        _OUTBOX.c.target.is_not(None),
        or_(
            and_(_is(OutboxStatus.SENDING), _OUTBOX.c.lease_until >= _NOW),
            and_(_is(OutboxStatus.PENDING), _OUTBOX.c.next_try_at > _NOW,
                 _OUTBOX.c.due_at <= _NOW),
        ),
    )


_NOW = bindparam("now", type_=_OUTBOX.c.due_at.type)
# The rows a claim may take, oldest due first; built once (parameters: now, spent, limit).
# `spent`: conversations whose pace allows no post now; what the pace does not hold (an
# ephemeral) still goes there.
_DUE = (
    select(_OUTBOX.c.id, _OUTBOX.c.kind, _OUTBOX.c.target, _OUTBOX.c.signal_id,
           _OUTBOX.c.due_at)
    .where(
        or_(and_(_is(OutboxStatus.PENDING), _OUTBOX.c.next_try_at <= _NOW),
            and_(_is(OutboxStatus.SENDING), _OUTBOX.c.lease_until < _NOW)),
        or_(_OUTBOX.c.target.is_(None), _OUTBOX.c.target.not_in(_busy_lanes())),
        or_(_OUTBOX.c.target.is_(None),
            not_in_list(_OUTBOX.c.target, "spent"),
            _OUTBOX.c.kind != POST_KIND),
    )
    .order_by(_OUTBOX.c.due_at, _ESCALATIONS_FIRST, _OUTBOX.c.id)
    .limit(bindparam("limit"))
)
_DUE_LOCKED = _DUE.with_for_update(skip_locked=True)  # PostgreSQL: other claimers skip them


# A CRM write carries the AE card's permalink (service/crm/sync.py): it follows the card. A
# card refresh updates the cards recorded so far: a card still in flight would be missed.
AFTER_CARDS = ("crm.upsert", "slack.refresh")


# A claim: one attempt more, this claimer's lease. An attempt that may have reached Slack
# keeps the time it started (Slack may have the message); a `sending` row whose lease ran
# out (its claimer died mid-attempt) is marked maybe sent. SET reads the row as it was.
_CLAIM = update(_OUTBOX).where(in_list(_OUTBOX.c.id, "ids")).values(
    attempts=_OUTBOX.c.attempts + 1,
    claimed_by=bindparam("worker", type_=_OUTBOX.c.claimed_by.type),
    lease_until=bindparam("lease_until", type_=_OUTBOX.c.lease_until.type),
    attempt_started_at=case(
        (and_(_is(OutboxStatus.PENDING), not_(_OUTBOX.c.maybe_sent)),
         bindparam("now", type_=_OUTBOX.c.attempt_started_at.type)),
        else_=_OUTBOX.c.attempt_started_at),
    maybe_sent=case((_is(OutboxStatus.SENDING), True), else_=_OUTBOX.c.maybe_sent),
    status=OutboxStatus.SENDING.value,
).returning(*_OUTBOX.c)


# The card posts of some signals in flight or not yet tried (parameter: ids).
_CARDS_OPEN = select(_OUTBOX.c.signal_id, _OUTBOX.c.due_at, _OUTBOX.c.id).where(
    in_list(_OUTBOX.c.signal_id, "ids"), _OUTBOX.c.kind == POST_KIND,
    _OUTBOX.c.key.like("card:%"),
    or_(_is(OutboxStatus.SENDING), and_(_is(OutboxStatus.PENDING), _OUTBOX.c.attempts == 0)))


def _after_their_posts(session: Session, rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """Drop CRM writes and card refreshes whose signal has an earlier card post in flight or
    not yet tried (pacing, a 429; a post sent but not yet recorded is still in flight): a
    CRM write carries the card's permalink, a refresh updates the cards recorded so far, so
    both wait until the card is in Slack and recorded (lanes run side by side). A card that
    failed and waits for its retry holds nothing: the deal is written without the link,
    which a later write adds, and the card renders the signal as it is when it is sent."""
    waiting = {row.signal_id for row in rows
               if row.signal_id is not None and row.kind in AFTER_CARDS}
    if not waiting:
        return list(rows)
    first: dict[int, tuple[datetime, int]] = {}
    for signal_id, due_at, row_id in session.execute(_CARDS_OPEN, {"ids": list(waiting)}):
        first[signal_id] = min(first.get(signal_id, (due_at, row_id)), (due_at, row_id))
    return [row for row in rows if row.kind not in AFTER_CARDS or row.signal_id not in first
            or first[row.signal_id] > (row.due_at, row.id)]


# The open rows of some lanes, in lane order (parameter: targets).
_LANES = select(_OUTBOX.c.id, _OUTBOX.c.target).where(
    in_list(_OUTBOX.c.target, "targets"),
    or_(_is(OutboxStatus.PENDING), _is(OutboxStatus.SENDING)),
).order_by(_OUTBOX.c.due_at, _OUTBOX.c.id)


def _lane_prefixes(session: Session, rows: Sequence[Row[Any]]) -> list[Row[Any]]:
    """Of `rows` (locked, oldest due first), those whose every earlier open row in their lane
    is among them too. Read after the rows were locked, so a lane another claimer is taking
    right now (its rows still pending here, or already sending) is not taken twice."""
    targets = {row.target for row in rows if row.target is not None}
    if not targets:
        return list(rows)
    ours = {row.id for row in rows}
    blocked: set[str] = set()
    allowed: set[int] = set()
    lane_rows = session.execute(_LANES, {"targets": list(targets)})
    for row_id, target in lane_rows:
        if target in blocked:
            continue
        if row_id in ours:
            allowed.add(row_id)
        else:
            blocked.add(target)
    return [row for row in rows if row.target is None or row.id in allowed]


def _within_room(rows: list[Row[Any]], room: Mapping[str, int] | None) -> list[Row[Any]]:
    """Each lane `room` names, up to its first post beyond its room (still a prefix)."""
    if not room:
        return rows
    taken: dict[str, int] = {}
    full: set[str] = set()
    kept = []
    for row in rows:
        target = row.target
        if target in full:
            continue
        if target in room and row.kind == POST_KIND:
            if taken.get(target, 0) >= room[target]:
                full.add(target)
                continue
            taken[target] = taken.get(target, 0) + 1
        kept.append(row)
    return kept


def next_due(session: Session) -> datetime | None:
    """When the earliest pending row may next be tried (None: nothing pending)."""
    return session.scalar(select(func.min(OutboxMessage.next_try_at)).where(
        OutboxMessage.status == OutboxStatus.PENDING))


# The fence of an attempt's result: the row, still `sending`, still this claimer's attempt.
# Built once: the SET clause comes from the column names of each call's values.
_FINISH = update(_OUTBOX).where(
    _OUTBOX.c.id == bindparam("fence_id"),
    _OUTBOX.c.claimed_by == bindparam("fence_worker"),
    _OUTBOX.c.attempts == bindparam("fence_attempt"),
    _OUTBOX.c.status == OutboxStatus.SENDING.value,
)


def finish(session: Session, row_id: int, worker: str, attempt: int, **values: Any) -> bool:
    """Write an attempt's result, only if this worker's claim still holds; True if it did."""
    result = session.connection().execute(
        _FINISH, {**values, "fence_id": row_id, "fence_worker": worker, "fence_attempt": attempt})
    return result.rowcount == 1


@dataclass(frozen=True)
class SentPost:
    """A post Slack confirmed: its row, the attempt that sent it, when, and where it is."""

    row_id: int
    attempt: int
    at: datetime
    channel: str
    ts: str


_SENT = recordset("v", {"row_id": Integer(), "attempt": Integer(),
                        "at": DateTime(timezone=True), "channel": String(), "ts": String()})
# What a recorded post's row holds besides when and where it was sent.
_SENT_STATE = {"status": OutboxStatus.SENT.value, "maybe_sent": False, "last_error": None}
# PostgreSQL: the posts of a batch recorded with one statement, each fenced as `_FINISH` is.
_FINISH_SENT = update(_OUTBOX).where(
    _OUTBOX.c.id == _SENT.c.row_id,
    _OUTBOX.c.claimed_by == bindparam("worker"),
    _OUTBOX.c.attempts == _SENT.c.attempt,
    _OUTBOX.c.status == OutboxStatus.SENDING.value,
).values(**_SENT_STATE, sent_at=_SENT.c.at, result_channel=_SENT.c.channel,
         result_ts=_SENT.c.ts).returning(_OUTBOX.c.id)


# SQLite: the same, one execution per post in one driver executemany.
_FINISH_SENT_EACH = update(_OUTBOX).where(
    _OUTBOX.c.id == bindparam("row_id", type_=Integer()),
    _OUTBOX.c.claimed_by == bindparam("worker", type_=String()),
    _OUTBOX.c.attempts == bindparam("attempt", type_=Integer()),
    _is(OutboxStatus.SENDING),
).values({name: bindparam(f"set_{name}", type_=_OUTBOX.c[name].type)
          for name in (*_SENT_STATE, "sent_at", "result_channel", "result_ts")})


def finish_sent(session: Session, worker: str, posts: list[SentPost]) -> set[int]:
    """Record posts Slack confirmed as sent, each only if this worker's claim of that attempt
    still holds; returns the ids recorded. One statement on PostgreSQL (one round trip
    whatever the batch holds), one driver executemany on SQLite (in process, inside the
    write lock the acks wait for: the shorter the better)."""
    if not posts:
        return set()
    if is_postgres(session):
        rows = [{"row_id": p.row_id, "attempt": p.attempt, "at": p.at, "channel": p.channel,
                 "ts": p.ts} for p in posts]
        return set(session.connection().execute(
            _FINISH_SENT, {**rows_param(rows), "worker": worker}).scalars())
    each = [{"row_id": p.row_id, "attempt": p.attempt, "set_sent_at": p.at,
             "set_result_channel": p.channel, "set_result_ts": p.ts} for p in posts]
    same = {"worker": worker, **{f"set_{name}": value for name, value in _SENT_STATE.items()}}
    if executemany(session.connection(), _FINISH_SENT_EACH, each, same=same) == len(posts):
        return {p.row_id for p in posts}
    # a claim ran out meanwhile (rare): recorded are the rows still this attempt's, now sent
    # (another worker may have adopted the same ts by reconciling: that row is not ours)
    stored = {row.id: row for row in session.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.status, _OUTBOX.c.claimed_by, _OUTBOX.c.attempts)
        .where(_OUTBOX.c.id.in_([p.row_id for p in posts])))}
    return {p.row_id for p in posts if (row := stored.get(p.row_id)) is not None
            and (row.status, row.claimed_by, row.attempts)
            == (OutboxStatus.SENT.value, worker, p.attempt)}


def backlog(session: Session, now: datetime) -> dict[str, Any]:
    """What /healthz reports: the oldest due-but-unsent item, how many are due, held count."""
    oldest, due = session.execute(
        select(func.min(OutboxMessage.due_at), func.count()).where(
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            OutboxMessage.due_at <= now,
        )
    ).one()
    held = session.scalar(select(func.count()).where(OutboxMessage.status == OutboxStatus.HELD))
    return {
        "oldest_due_unsent": oldest.isoformat() if oldest else None,
        "oldest_due_age_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "held": held or 0,
        "due": due or 0,
    }
