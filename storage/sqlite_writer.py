"""SQLite's one writer, handed over by the kernel instead of by SQLite's busy handler.

SQLite lets one connection write at a time. A writer that finds the lock taken is left to
the busy handler, which sleeps and retries: 1, 2, 5, 10 … up to 100 ms between tries. Under
load a waiter keeps waking just after another writer took the lock again, so a short
transaction could wait a third of a second for a lock free most of that time (the ack
benchmark's p99 on SQLite, docs/benchmarks.md finding 13).

So every connection this module makes first takes an exclusive `flock` on `<database>-lock`
before its transaction's first write, and drops it when the transaction ends. Waiters block
in the kernel (the GIL released) and one wakes the moment it is free, across threads and
processes alike. SQLite's own lock and busy timeout are still there beneath it, for any
writer that does not go through here (the `sqlite3` shell, a backup tool).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

# Statements that write, or open a transaction that will (`storage.db.begin_writing`)
WRITES = ("insert", "update", "delete", "replace", "begin immediate")
_holders: dict[int, int] = {}  # thread id -> writer locks it holds (a nested unit of work)
_holders_guard = threading.Lock()


def lock_path(database: str) -> str | None:
    """The lock file beside a database file; None for an in-memory or URI database."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-lock"


def writes(sql: str) -> bool:
    """True for a statement that opens a write transaction in `sqlite3` (its first words)."""
    return sql.lstrip()[:15].lower().startswith(WRITES)


class WriterLockedConnection(sqlite3.Connection):
    """A `sqlite3` connection (pass as `factory=`) that writes only while holding the lock file."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        self._lock_path = lock_path(os.fspath(database))
        self._lock_fd: int | None = None
        self._holding: int | None = None  # the thread that took the lock

    def cursor(self, factory=None):  # noqa: D102 - sqlite3's, with the lock-taking cursor
        return super().cursor(factory or WriterLockedCursor)

    def hold(self) -> None:
        """Take the writer lock for this transaction, waiting for it if another holds it."""
        if self._holding is not None or self._lock_path is None:
            return
        thread = threading.get_ident()
        if _holders.get(thread):
            # This thread already writes through another connection: waiting here would
            # wait for itself. SQLite's busy timeout answers instead, as it always did.
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._holding = thread
        _count(thread, +1)

    def release(self) -> None:
        """Drop the writer lock once no transaction is open."""
        if self._holding is not None and not self.in_transaction:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._forget()

    def _forget(self) -> None:
        _count(self._holding, -1)
        self._holding = None

    def commit(self):  # noqa: D102
        try:
            super().commit()
        finally:
            self.release()

    def rollback(self):  # noqa: D102
        try:
            super().rollback()
        finally:
            self.release()

    def close(self):  # noqa: D102
        try:
            super().close()
        finally:
            if self._holding is not None:
                self._forget()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # closing the descriptor drops the lock
                self._lock_fd = None


class WriterLockedCursor(sqlite3.Cursor):
    """Takes its connection's writer lock before a statement that writes."""

    def execute(self, sql, parameters=(), /):  # noqa: D102
        return self._run(super().execute, sql, parameters)

    def executemany(self, sql, seq_of_parameters, /):  # noqa: D102
        return self._run(super().executemany, sql, seq_of_parameters)

    def _run(self, method, sql, parameters):
        connection = self.connection
        if writes(sql):
            connection.hold()
        try:
            return method(sql, parameters)
        finally:
            connection.release()  # a no-op inside a transaction; after autocommit, DDL, errors


def _count(thread: int, step: int) -> None:
    with _holders_guard:
        left = _holders.get(thread, 0) + step
        if left > 0:
            _holders[thread] = left
        else:
            _holders.pop(thread, None)
