"""An online copy of a SQLite database with SQLite's backup API (the bot may keep writing)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine


class BackupError(Exception):
    """The copy cannot be made; the message says why, for the operator."""


def backup_sqlite(engine: Engine, target: str | os.PathLike[str]) -> int:
    """Copy the database behind `engine` to `target` (created 0600); returns its pages.

    One backup step copies the whole file from one read snapshot: in WAL mode writers go on
    meanwhile, and the copy is consistent as of its start. The copy is written next to
    `target` and renamed into place, so a failed backup never leaves half a file there.
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
            src.backup(dst)
            pages = dst.execute("PRAGMA page_count").fetchone()[0]
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        src.close()
        dst.close()
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"SQLite refused: {exc}") from exc
    partial.replace(target)
    return pages
