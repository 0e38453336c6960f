"""Engines, sessions and the schema's migration state."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from storage.sqlite_writer import WriterLockedConnection

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# A pooled server connection is pinged before use only when it sat idle this long (seconds).
PING_IDLE_AFTER = 1.0
_IDLE_SINCE = "signalbot.idle_since"  # in a pool entry's info: time.monotonic() of its checkin


def make_engine(url: str, **kwargs) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys, a busy timeout and its writers
    queued on a lock file (`storage.sqlite_writer`)."""
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30,
                                           "factory": WriterLockedConnection})
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with one round trip before use when it sat idle longer than
    `PING_IDLE_AFTER`; a dead one (the server restarted, a firewall dropped it) is replaced
    before a unit of work fails on it. `pool_pre_ping` would ping at every checkout: one
    round trip more per unit of work (a submission is five), where a busy process's
    connections come back within moments."""
    dialect = engine.dialect

    def rested(_dbapi_connection, record) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def check(dbapi_connection, record, _proxy) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < PING_IDLE_AFTER:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            # the pool discards this connection and checks out a fresh one (up to 3 tries)
            raise exc.DisconnectionError(str(error)) from error

    event.listen(engine, "connect", rested)
    event.listen(engine, "checkin", rested)
    event.listen(engine, "checkout", check)


def _private_file(path: str | None) -> None:
    """Create a new SQLite file readable by its owner only (0600); its WAL and shared-memory
    files get the same mode from SQLite. An existing file is left as its owner set it."""
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # another process created it a moment ago
    except OSError:
        pass  # no such directory, read-only...: SQLite will say so in its own words


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if not _is_memory(dbapi_connection):
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _is_memory(dbapi_connection) -> bool:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return any(row[2] == "" for row in rows)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (no lazy reload surprises)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine) -> bool:
    """True when talking to PostgreSQL (SKIP LOCKED, ON CONFLICT dialect)."""
    bind = (
        session_or_engine.get_bind()
        if isinstance(session_or_engine, Session)
        else session_or_engine
    )
    return bind.dialect.name == "postgresql"


def begin_writing(session: Session) -> None:
    """On SQLite, open the session's transaction holding the write lock now, before its
    first read (unless a write holds it already): Python's `sqlite3` begins a transaction
    only at the first write, so the reads before it are not part of it, and a unit of work
    that reads rows and then marks them (a claim) would let another writer take the same
    rows in between. PostgreSQL's claims lock the rows they read instead."""
    if is_postgres(session):
        return
    connection = session.connection()
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def insert_for(session: Session, table):
    """The dialect's INSERT (PostgreSQL or SQLite), which has `on_conflict_do_nothing`."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return (pg_insert if is_postgres(session) else sqlite_insert)(table)


def alembic_config(url: str):
    """An Alembic config pointing at the packaged migrations and `url`."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def schema_state(engine: Engine) -> tuple[str | None, str]:
    """(the database's revision, the code's head revision)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
