"""storage/bulk.py: rows written with one Core statement, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import String, create_engine, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from storage.bulk import (
    insert_one,
    insert_one_under,
    insert_rows,
    one_statement,
    write_changes,
)
from storage.db import is_postgres
from storage.models import Account, OutboxMessage, Signal
from tests.conftest import make_services

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def session(db_url):
    services = make_services(db_url, None)
    with services.unit_of_work() as session:
        yield session
    services.engine.dispose()


def _outbox(key: str) -> dict:
    return {"key": key, "kind": "slack.post", "target": "U1", "payload": {"text": key},
            "signal_id": None, "guard_deadline_id": None}


def test_a_statement_used_again_takes_each_call_s_shared_values(session):
    """The statement of a shape is built once per connection; what rows share is a
    parameter of each call, not a value kept in the statement."""
    for index in range(3):
        at = NOW + timedelta(minutes=index)
        insert_rows(session, OutboxMessage.__table__, [_outbox(f"k{index}")], conflict=["key"],
                    same={"status": "pending", "attempts": index, "created_at": at,
                          "due_at": at, "next_try_at": at})
    stored = session.execute(select(OutboxMessage.key, OutboxMessage.attempts,
                                    OutboxMessage.created_at).order_by(OutboxMessage.key))
    assert [(key, attempts, created.replace(tzinfo=UTC)) for key, attempts, created in stored] \
        == [(f"k{i}", i, NOW + timedelta(minutes=i)) for i in range(3)]


def _signal(account: Account, key: str) -> Signal:
    return Signal(account=account, account_id=account.id, csm_id="UCSM", ae_id="UAE",
                  category="expansion", kind="seats", buyer_name="Dana", timeline="Q1",
                  note="n", urgency="hot", stage="signal", submission_key=key,
                  created_at=NOW, updated_at=NOW)


def _account(session, name: str) -> Account:
    account = Account(name=name, name_key=name.casefold(), created_at=NOW)
    session.add(account)
    session.flush()
    return account


def _inserted(session, account: Account, *keys: str) -> list[Signal]:
    """New signals on `account`, each written with `insert_one`."""
    signals = [_signal(account, key) for key in keys]
    for signal in signals:
        insert_one(session, signal)
    return signals


def test_insert_one_writes_the_row_and_leaves_it_loaded_and_clean(session):
    account = _account(session, "Globex")
    first, second = _inserted(session, account, "a", "b")
    assert first.id and second.id == first.id + 1
    assert first in session and not session.dirty and not session.new
    assert (first.version, first.token, first.ownership, first.source) == (1, 1, "ae", "slash")
    first.stage = "handed_off"  # a later change is flushed as an UPDATE of the row
    session.flush()
    session.expire_all()
    assert session.get(Signal, first.id).stage == "handed_off"
    assert session.get(Signal, second.id).stage == "signal"
    assert session.scalar(select(func.count()).select_from(Signal)) == 2


def _unplaced(key: str) -> Signal:
    """A new signal whose account is not set yet."""
    return Signal(csm_id="UCSM", ae_id="UAE", category="expansion", kind="seats",
                  buyer_name="Dana", timeline="Q1", note="n", urgency="hot", stage="signal",
                  submission_key=key, created_at=NOW, updated_at=NOW)


def test_insert_one_under_reads_the_parent_in_the_insert_on_postgresql(session):
    from storage.queries import _ACCOUNT_BY_TEXT
    from tests.handlers.test_ack_cost import counting

    account = _account(session, "Globex")
    account.crm_id = "crm-9"
    session.flush()
    session.expunge(account)  # as in a new unit of work: not loaded yet
    signal = _unplaced("u1")
    by_name = {"text": "Globex", "key": "globex"}
    with counting(session.get_bind()) as statements:
        found = insert_one_under(session, signal, "account", _ACCOUNT_BY_TEXT, by_name)
    if not is_postgres(session):  # SQLite: the caller reads the account, then insert_one
        assert found is None and statements == []
        return
    assert len(statements) == 1, statements
    assert (found.id, found.crm_id, found.name) == (account.id, "crm-9", "Globex")
    assert signal.account is found and signal.account_id == found.id and signal.id
    assert found in session and signal in session and not session.dirty and not session.new
    assert (signal.version, signal.token, signal.ownership) == (1, 1, "ae")  # its defaults
    again = _unplaced("u2")  # the account is in the session now: that one is used
    assert insert_one_under(session, again, "account", _ACCOUNT_BY_TEXT, by_name) is found
    missing = _unplaced("u3")  # no such account: nothing written
    assert insert_one_under(session, missing, "account", _ACCOUNT_BY_TEXT,
                            {"text": "Initech", "key": "initech"}) is None
    session.flush()
    session.expire_all()
    stored = session.execute(select(Signal.submission_key, Signal.account_id)
                             .order_by(Signal.id)).all()
    assert stored == [("u1", account.id), ("u2", account.id)]


def test_insert_signal_finds_or_creates_its_account_on_either_database(session):
    from storage.queries import insert_signal

    known = _account(session, "Globex Corp")
    session.flush()
    first = _unplaced("s1")
    assert insert_signal(session, first, "  globex   corp ", None, NOW).id == known.id
    second = _unplaced("s2")
    created = insert_signal(session, second, "Initech", None, NOW)
    assert created.id != known.id and created.name == "Initech"
    assert (first.account_id, second.account_id) == (known.id, created.id)
    session.flush()
    assert session.scalar(select(func.count()).select_from(Signal)) == 2


class _Other(DeclarativeBase):
    pass


class _Stamped(_Other):
    __tablename__ = "stamped"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(10), default=lambda: "computed")


def test_insert_one_refuses_a_row_with_a_callable_default(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path}/o.db")
    _Other.metadata.create_all(engine)
    with Session(engine) as session, pytest.raises(ValueError, match="callable default"):
        insert_one(session, _Stamped())
    engine.dispose()


def test_write_changes_updates_only_what_changed_and_leaves_nothing_to_flush(session):
    account = _account(session, "Initech")
    signal, other = _inserted(session, account, "c", "d")
    signal.stage, signal.version, signal.note = "handed_off", 3, "n"  # the note is unchanged
    with _counted(session) as statements:
        write_changes(session, signal)
        write_changes(session, other)  # nothing changed: no statement
        session.flush()
    assert len(statements) == 1 and statements[0].startswith("UPDATE signals SET")
    assert "note" not in statements[0].split("WHERE")[0]
    assert not session.dirty and signal in session and signal.account is account
    session.expire_all()
    assert (session.get(Signal, signal.id).stage, session.get(Signal, signal.id).version) \
        == ("handed_off", 3)
    assert (session.get(Signal, other.id).stage, session.get(Signal, other.id).version) \
        == ("signal", 1)


@contextmanager
def _counted(session) -> Iterator[list[str]]:
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", seen)


# What an outbox row written now shares with the rest (`insert_rows`' `same`).
_PENDING = {"status": "pending", "attempts": 0, "created_at": NOW, "due_at": NOW,
            "next_try_at": NOW}


def test_one_statement_writes_a_unit_of_work_s_tail_in_one_round_trip(session):
    account = _account(session, "Umbrella")
    [signal] = _inserted(session, account, "e")
    with _counted(session) as statements, one_statement(session):
        insert_rows(session, OutboxMessage.__table__, [_outbox("t1"), _outbox("t2")],
                    conflict=["key"], same=_PENDING)
        with one_statement(session):  # nested: part of the outer one
            insert_rows(session, OutboxMessage.__table__, [_outbox("t1"), _outbox("t3")],
                        conflict=["key"], same=_PENDING)  # t1 again: skipped, as on its own
        signal.stage, signal.version = "handed_off", 2
        write_changes(session, signal)
        assert not session.is_modified(signal) and not session.dirty
    assert len(statements) == (1 if is_postgres(session) else 3), statements
    session.expire_all()
    assert session.scalars(select(OutboxMessage.key).order_by(OutboxMessage.key)).all() \
        == ["t1", "t2", "t3"]
    assert (session.get(Signal, signal.id).stage, session.get(Signal, signal.id).version) \
        == ("handed_off", 2)


def test_one_statement_writes_nothing_when_its_block_fails(session):
    with pytest.raises(RuntimeError), one_statement(session):
        insert_rows(session, OutboxMessage.__table__, [_outbox("u1")], conflict=["key"],
                    same=_PENDING)
        raise RuntimeError("the step failed")
    if is_postgres(session):  # held, never sent (SQLite wrote it; the caller rolls back)
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_write_changes_leaves_a_changed_relationship_to_the_flush(session):
    first, second = _account(session, "Hooli"), _account(session, "Pied Piper")
    [signal] = _inserted(session, first, "f")
    signal.account, signal.stage = second, "handed_off"  # the key follows at the flush
    write_changes(session, signal)
    session.flush()
    session.expire_all()
    stored = session.get(Signal, signal.id)
    assert (stored.account_id, stored.stage) == (second.id, "handed_off")
