"""CPU per delivered post in the worker process alone (issue 16).

`python -m bench.worker_cpu [sqlite|postgres] [seconds]`: `signalbot web --no-worker` takes
the ack benchmark's mix at 40 req/s (`RATE=100`: the ack benchmark's target rate) for
`seconds` (default 10) while a lone `signalbot worker` delivers the cards it causes; the
worker's CPU time (/proc), less its idle rate measured before, divided by the posts Slack
(the stand-in) took. The ack benchmark reports the worker's share per valid submission
beside everything else; this isolates it, for comparing changes to the claim, the rendering
and the Slack calls. Set `SPY=<file>` to record the worker with
py-spy (raw format, GIL holders only) meanwhile.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.ack import Bot, cpu_seconds, drained, load
from bench.common import database
from bench.data import Team
from bench.procs import bot_env, cli, modal, running, web
from standin import SlackStandin
from storage.db import make_engine
from storage.models import OutboxMessage
from storage.outbox import POST_KIND, OutboxStatus

RATE = int(os.environ.get("RATE", "40"))


def _spy(pid: int) -> subprocess.Popen | None:
    out = os.environ.get("SPY")
    if not out:
        return None
    spy = Path(sys.executable).parent / "py-spy"  # pip install py-spy into the venv
    return subprocess.Popen([str(spy), "record", "--pid", str(pid), "--gil", "--format", "raw",
                             "-r", "200", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _posts_sent(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.kind == POST_KIND, OutboxMessage.status == OutboxStatus.SENT))
    finally:
        engine.dispose()


def main(argv: list[str]) -> None:
    db = argv[0] if argv else "sqlite"
    seconds = float(argv[1]) if len(argv) > 1 else 10.0
    team = Team.make(csms=40, aes=40, teams=5)
    with SlackStandin() as standin, database(db, "worker_cpu") as url, \
            tempfile.TemporaryDirectory(prefix="bench-worker-") as tmp:
        folder = Path(tmp)
        team.register(standin)
        env = bot_env(folder, url, standin, team.yaml())
        site = web(folder, env, "--migrate", "--no-worker")
        with running(site):
            view = modal(site.url, standin, team.csms[0])
            worker = cli(folder, env, "worker", name="worker")
            with running(worker):
                bot = Bot("signalbot", worker, False)
                time.sleep(6)  # started and caught up
                bot.settle(4.0)
                pid = worker.proc.pid
                spy = _spy(pid)
                before, started = cpu_seconds(pid), time.monotonic()
                load(folder, site.url, RATE, seconds, view, team, "w", None)
                drained(bot, url, timeout=300)
                used = cpu_seconds(pid) - before - bot.idle_cpu * (time.monotonic() - started)
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait()
        sent = _posts_sent(url)
        print(f"{db}: the worker's CPU {used * 1000:.0f} ms for {sent} posts = "
              f"{used * 1000 / sent:.2f} ms a post (idle {bot.idle_cpu * 1000:.1f} ms/s)")


if __name__ == "__main__":
    main(sys.argv[1:])
