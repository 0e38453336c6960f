"""Pooled PostgreSQL connections: checked with a round trip only after sitting idle, and a
dead one (the server restarted, the connection dropped) replaced before a unit of work uses
it (issue 16: `pool_pre_ping` cost a round trip on every unit of work)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from storage import db
from storage.db import make_engine, session_factory, unit_of_work

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_url):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _pings(engine, monkeypatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def _backend_pid(engine) -> int:
    with unit_of_work(session_factory(engine)) as session:
        return session.scalar(select(text("pg_backend_pid()")))


def test_a_connection_in_use_is_not_pinged(engine, monkeypatch):
    pings = _pings(engine, monkeypatch)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 60.0)
    first = _backend_pid(engine)
    assert {_backend_pid(engine) for _ in range(10)} == {first}
    assert pings == []


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(engine, pg_url, monkeypatch):
    pings = _pings(engine, monkeypatch)
    first = _backend_pid(engine)
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)  # every pooled connection counts as idle
    assert _backend_pid(engine) == first and len(pings) == 1

    killer = make_engine(pg_url)
    with killer.begin() as conn:  # the server drops the pooled connection while it is idle
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    killer.dispose()

    replaced = _backend_pid(engine)  # no error: the ping found it dead, the pool reconnected
    assert replaced != first
    assert len(pings) == 3  # the dead one, then its replacement (idle too, at 0 s)
