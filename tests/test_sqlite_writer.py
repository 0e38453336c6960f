"""SQLite's writers queue on a lock file (storage.sqlite_writer), not on the busy handler.

Each test sets SQLite's own busy timeout to 0 on the waiting connection: without the lock
file, a second writer would be refused at once ("database is locked"); with it, it waits in
the kernel until the first commits, then writes.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import exc, text

from storage.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys, time
from sqlalchemy import text
from storage.db import make_engine
engine = make_engine(sys.argv[1])
with engine.connect() as conn:
    conn.execute(text("INSERT INTO t VALUES ('holder')"))
    print("holding", flush=True)
    sys.stdin.readline()
    conn.commit()
"""


@pytest.fixture
def url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (name TEXT)"))
    engine.dispose()
    return url


def _impatient(engine):
    """A connection SQLite's busy handler would refuse at once if the file were locked."""
    conn = engine.connect()
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    return conn


def _names(url: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as conn:
        names = sorted(conn.execute(text("SELECT name FROM t")).scalars())
    engine.dispose()
    return names


def _write_in_thread(engine, name: str) -> tuple[threading.Thread, list]:
    outcome: list = []

    def write() -> None:
        try:
            with _impatient(engine) as conn:
                conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": name})
                conn.commit()
            outcome.append("written")
        except Exception as error:  # noqa: BLE001 - the test reports it
            outcome.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    return thread, outcome


def test_a_second_writer_waits_for_the_first_to_commit_then_writes(url):
    engine = make_engine(url)
    first = engine.connect()
    first.execute(text("INSERT INTO t VALUES ('first')"))  # a write transaction, held open
    thread, outcome = _write_in_thread(engine, "second")
    thread.join(0.3)
    assert thread.is_alive() and outcome == []  # waiting, not refused
    first.commit()
    thread.join(10)
    assert outcome == ["written"]
    first.close()
    engine.dispose()
    assert _names(url) == ["first", "second"]


def test_a_writer_in_another_process_is_waited_for(url):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "holding"
        engine = make_engine(url)
        thread, outcome = _write_in_thread(engine, "here")
        thread.join(0.3)
        assert thread.is_alive() and outcome == []
        holder.stdin.write("\n")
        holder.stdin.flush()
        thread.join(10)
        assert outcome == ["written"]
        engine.dispose()
    finally:
        holder.communicate(timeout=10)
    assert holder.returncode == 0
    assert _names(url) == ["here", "holder"]


def test_rollback_and_a_failed_statement_let_the_next_writer_in(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES ('dropped')"))
        conn.rollback()
        with pytest.raises(exc.OperationalError):
            conn.execute(text("INSERT INTO missing VALUES (1)"))
        conn.rollback()
        conn.exec_driver_sql("CREATE TABLE u (x)")  # DDL commits by itself
        with _impatient(engine) as other:
            other.execute(text("INSERT INTO t VALUES ('next')"))
            other.commit()
    engine.dispose()
    assert _names(url) == ["next"]


def test_a_connection_returned_to_the_pool_mid_transaction_lets_go(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES ('abandoned')"))
    # the pool rolled it back on return
    with _impatient(engine) as other, _impatient(engine) as third:
        other.execute(text("INSERT INTO t VALUES ('other')"))
        other.commit()
        third.execute(text("INSERT INTO t VALUES ('third')"))
        third.commit()
    engine.dispose()
    assert _names(url) == ["other", "third"]


def test_a_nested_writer_in_the_same_thread_gets_sqlites_answer_not_a_hang(url):
    engine = make_engine(url)
    with engine.connect() as outer:
        outer.execute(text("INSERT INTO t VALUES ('outer')"))
        with _impatient(engine) as inner, pytest.raises(exc.OperationalError, match="locked"):
            inner.execute(text("INSERT INTO t VALUES ('inner')"))
        outer.commit()
    engine.dispose()
    assert _names(url) == ["outer"]


def test_the_lock_file_is_private(url, tmp_path):
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('x')"))
    engine.dispose()
    mode = stat.S_IMODE(os.stat(tmp_path / "w.db-lock").st_mode)
    assert mode == 0o600
