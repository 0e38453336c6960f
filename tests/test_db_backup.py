"""`signalbot db backup FILE`: an online SQLite copy while the bot writes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from storage.db import make_engine, session_factory, unit_of_work, upgrade
from storage.outbox import Outgoing, enqueue

ROOT = Path(__file__).resolve().parents[1]


def cli(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNALBOT_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_backup_while_another_process_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = session_factory(engine)
    stop, written = threading.Event(), [0]

    def write() -> None:
        now = datetime.now(UTC)
        while not stop.is_set():
            with unit_of_work(factory) as session:
                enqueue(session, [Outgoing(key=f"k{written[0]}", kind="slack.post",
                                           target="U1", payload={"text": "x" * 500})], now)
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while written[0] < 50:
            stop.wait(0.01)
        result = cli(tmp_path, url, "db", "backup", str(tmp_path / "copy.db"))
        during = written[0]
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    assert result.returncode == 0, result.stderr
    assert during > 50  # the bot kept writing while the copy was made
    copy = tmp_path / "copy.db"
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    with sqlite3.connect(copy) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        version = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert 50 <= rows <= written[0] and version
    assert not (tmp_path / "copy.db.partial").exists()


def test_backup_refuses_postgres_and_a_missing_file(tmp_path):
    result = cli(tmp_path, "postgresql://nobody@127.0.0.1:1/none", "db", "backup", "x.db")
    assert result.returncode == 2 and "pg_dump" in result.stderr
    result = cli(tmp_path, f"sqlite:///{tmp_path / 'bot.db'}", "db", "backup")
    assert result.returncode == 2 and "name the file" in result.stderr


def _database(tmp_path: Path, rows: int) -> str:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(session_factory(engine)) as session:
        enqueue(session, [Outgoing(key=f"k{i}", kind="slack.post", target="U1",
                                   payload={"text": "x" * 2000}) for i in range(rows)],
                datetime.now(UTC))
    engine.dispose()
    return url


def test_backup_reports_its_pages_step_by_step(tmp_path):
    from storage.backup import backup_sqlite

    url = _database(tmp_path, 400)
    engine = make_engine(url)
    seen: list[tuple[int, int]] = []
    pages = backup_sqlite(engine, tmp_path / "copy.db", lambda done, total: seen.append(
        (done, total)), step_pages=16)
    engine.dispose()
    assert len(seen) > 10 and seen[-1] == (pages, pages)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_copy_restarted_by_writes_again_and_again_finishes_in_one_step(tmp_path):
    from storage.backup import RESTARTS, backup_sqlite

    url = _database(tmp_path, 400)
    engine = make_engine(url)
    writer = sqlite3.connect(tmp_path / "bot.db")
    seen: list[tuple[int, int]] = []

    def report(done: int, total: int) -> None:
        seen.append((done, total))
        writer.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = 1")
        writer.commit()  # another connection writes between steps: SQLite starts over

    pages = backup_sqlite(engine, tmp_path / "copy.db", report, step_pages=16)
    writer.close()
    engine.dispose()
    restarts = sum(1 for a, b in zip(seen, seen[1:], strict=False) if b[0] <= a[0])
    assert restarts == RESTARTS and seen[-1] == (pages, pages)
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 400


def test_db_backup_draws_a_bar_in_a_terminal(tmp_path):
    from tests.test_progress import _in_a_terminal

    url = _database(tmp_path, 50)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNALBOT_"))}
    env.update(DATABASE_URL=url, PYTHONPATH=str(ROOT))
    status, screen = _in_a_terminal(["db", "backup", str(tmp_path / "copy.db")], env, tmp_path)
    assert status == 0, screen
    assert "━" in screen and "pages" in screen and "backed up" in screen
    piped = cli(tmp_path, url, "db", "backup", str(tmp_path / "again.db"))
    assert "db backup: " in piped.stderr and "━" not in piped.stderr
