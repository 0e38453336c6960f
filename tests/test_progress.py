"""CLI progress: a rich bar in a terminal (a pty here), plain lines in a pipe; Ctrl-C says
what was done; tables for people, JSON for scripts."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys

import pytest

from bot.progress import Interrupted, print_table, progress
from tests.test_cli import signalbot
from tests.test_ingest import cli_env  # noqa: F401 - a fixture

EVENTS = [{"account": "Globex Corp", "type": "active_users", "value": 40 + i, "seats": 50,
           "at": f"2026-11-2{i}T10:00:00Z"} for i in range(6)]


def _in_a_terminal(args: list[str], env: dict[str, str], cwd) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal, as a person at a shell would."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("the command did not finish")
        try:
            data = os.read(master, 4096)
        except OSError:  # the pty closed: the command is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_ingest_draws_a_bar_in_a_terminal_and_plain_lines_in_a_pipe(tmp_path, cli_env):  # noqa: F811
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n")
    status, screen = _in_a_terminal(["ingest", str(path)], cli_env, tmp_path)
    assert status == 0, screen
    assert "\x1b[" in screen and "━" in screen  # rich drew its bar
    assert "6/6" in screen and "lines" in screen and "/s" in screen
    assert "6 events stored" in screen

    again = signalbot("ingest", str(path), env=cli_env, cwd=tmp_path)
    assert again.returncode == 0
    assert "\x1b[" not in again.stderr and "━" not in again.stderr
    assert "ingest: 6/6 lines in" in again.stderr
    assert "6 events stored" in again.stdout


def test_accounts_import_shows_rows_in_a_terminal(tmp_path, cli_env):  # noqa: F811
    path = tmp_path / "more.csv"
    path.write_text("crm_id,name,csm\n" + "".join(f"C{i:03},Account {i},U0CSM0001\n"
                                                  for i in range(30)))
    status, screen = _in_a_terminal(["accounts", "import", str(path)], cli_env, tmp_path)
    assert status == 0, screen
    assert "━" in screen and "30/30" in screen and "rows" in screen
    piped = signalbot("accounts", "import", str(path), env=cli_env, cwd=tmp_path)
    assert "accounts import: 30/30 rows in" in piped.stderr and "━" not in piped.stderr


def test_ctrl_c_stops_cleanly_and_says_what_was_done():
    out = io.StringIO()
    with pytest.raises(Interrupted) as stopped, \
            progress("crm backfill", total=1000, unit="signals", out=out,
                     kept="the batches queued so far stay queued") as tracker:
        tracker.advance(500)
        raise KeyboardInterrupt
    assert stopped.value.code == 130
    assert "Stopped (Ctrl-C): crm backfill: 500/1,000 signals in" in out.getvalue()
    assert "the batches queued so far stay queued." in out.getvalue()


def test_plain_progress_lines_come_now_and_then(monkeypatch):
    out = io.StringIO()
    now = [0.0]
    monkeypatch.setattr("bot.progress.time.monotonic", lambda: now[0])
    with progress("export", unit="signals", out=out) as tracker:
        for _ in range(3):
            now[0] += 6
            tracker.advance(100)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["export: 100 signals (17/s)", "export: 200 signals (17/s)",
                         "export: 300 signals (17/s)"]
    assert lines[3] == "export: 300 signals in 18.0s"


def test_tables_are_rich_in_a_terminal_and_aligned_text_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    rows = [("outbox", 1234, None), ("held", 2, "2026-11-23")]
    shown, piped = Terminal(), io.StringIO()
    print_table("Backlog", ["what", "count", "oldest"], rows, out=shown)
    print_table("Backlog", ["what", "count", "oldest"], rows, out=piped)
    assert "┃" in shown.getvalue() or "│" in shown.getvalue()
    assert piped.getvalue().splitlines() == [
        "Backlog", "what    count  oldest", "outbox  1,234  —", "held    2      2026-11-23"]


def test_ctrl_c_during_ingest_keeps_what_was_stored_and_a_rerun_finishes(tmp_path, cli_env):  # noqa: F811
    lines = [json.dumps({"id": f"e{i}", "account": "Globex Corp", "type": "active_users",
                         "value": i % 50, "seats": 50, "at": "2026-11-20T10:00:00Z"}) + "\n"
             for i in range(12_000)]
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)  # a feed that stalls: the command is mid-file when Ctrl-C comes
    master, slave = pty.openpty()
    # as at a shell prompt: SIGINT not ignored (a suite run in the background ignores it)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(fifo)], env=cli_env,
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    with open(fifo, "w") as feed:
        feed.write("".join(lines[:6000]))  # one whole batch of 5,000 and some
        feed.flush()
        screen = b""
        while b"6000" not in screen:  # all read: the first batch is stored, it waits for more
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, screen
            screen += os.read(master, 4096)
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=60)
        finally:
            proc.kill()  # (a no-op once it has exited)
    while True:
        ready, _, _ = select.select([master], [], [], 5)
        try:
            data = os.read(master, 4096) if ready else b""
        except OSError:
            break
        if not data:
            break
        screen += data
    os.close(master)
    text = screen.decode("utf-8", "replace")
    assert status == 130, text
    assert "Stopped (Ctrl-C): ingest: 6,000 lines in" in text and "what was done is kept" in text
    assert "Traceback" not in text
    whole = tmp_path / "whole.jsonl"
    whole.write_text("".join(lines))
    again = signalbot("ingest", str(whole), env=cli_env, cwd=tmp_path)
    assert "7000 events stored, 5000 seen before" in again.stdout  # the first batch was kept
