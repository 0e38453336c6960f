"""An online copy of a SQLite database with SQLite's backup API (the bot may keep writing)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

STEP_PAGES = 4096  # pages a step (16 MiB at SQLite's default 4 KiB page)
RESTARTS = 2  # restarts tolerated before the copy is made in one step


class BackupError(Exception):
    """The copy cannot be made; the message says why, for the operator."""


class _Restarting(Exception):
    """The bot wrote between steps again and again: the stepwise copy would never end."""


Progress = Callable[[int, int], None]  # (pages copied, pages in all)


def backup_sqlite(engine: Engine, target: str | os.PathLike[str],
                  progress: Progress | None = None, step_pages: int = STEP_PAGES) -> int:
    """Copy the database behind `engine` to `target` (created 0600); returns its pages.

    With `progress`, the copy goes `step_pages` at a time and reports after each step. A
    write by another connection between steps makes SQLite start the copy over; after
    RESTARTS of those the rest is copied in one step, from one read snapshot (in WAL mode
    writers go on meanwhile, and the copy is consistent as of its start). The copy is
    written next to `target` and renamed into place, so a failed or interrupted backup
    never leaves half a file there.
    """
    if engine.dialect.name != "sqlite":
        raise BackupError(f"only SQLite is backed up by signalbot; for {engine.dialect.name} "
                          "use its own tools (pg_dump)")
    source = engine.url.database
    if not source or source == ":memory:":
        raise BackupError("the database is in memory: nothing to back up")
    target = Path(target)
    if target.resolve() == Path(source).resolve():
        raise BackupError("the backup file is the database itself")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600))
    try:
        with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(partial) as dst:
            _copy(src, dst, progress, step_pages)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        src.close()
        dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"SQLite refused: {exc}") from exc
    except BaseException:  # Ctrl-C: no half file left behind
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return pages


def _copy(src: sqlite3.Connection, dst: sqlite3.Connection, progress: Progress | None,
          step_pages: int) -> None:
    if progress is None:
        src.backup(dst)
        return
    seen = {"remaining": None, "restarts": 0}

    def report(_status: int, remaining: int, total: int) -> None:
        if seen["remaining"] is not None and remaining >= seen["remaining"]:  # started over
            seen["restarts"] += 1
            if seen["restarts"] > RESTARTS:
                raise _Restarting
        seen["remaining"] = remaining
        progress(total - remaining, total)

    try:
        src.backup(dst, pages=step_pages, progress=report)
    except _Restarting:
        src.backup(dst)  # one step, one snapshot
        total = dst.execute("PRAGMA page_count").fetchone()[0]
        progress(total, total)
