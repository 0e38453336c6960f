"""SQLite with several processes: WAL and the busy timeout let two writers share the file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from storage.db import make_engine, upgrade
from storage.models import OutboxMessage

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import sys
from datetime import UTC, datetime
from sqlalchemy import func, select
from storage.db import make_engine, session_factory, unit_of_work
from storage.models import OutboxMessage
from storage.outbox import Outgoing, enqueue
factory = session_factory(make_engine(sys.argv[1]))
for n in range(150):
    with unit_of_work(factory) as session:  # read, then write, as a unit of work does
        session.scalar(select(func.count()).select_from(OutboxMessage))
        enqueue(session, [Outgoing(key=f"{sys.argv[2]}:{n}", kind="slack.post", target="U1")],
                datetime.now(UTC))
"""


def test_two_processes_write_at_once_and_nothing_is_lost(tmp_path):
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, url, name], cwd=ROOT,
                                stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OutboxMessage)) == 300
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
