"""replicas: two web processes and a worker on one database, every escalation exactly once.

`signalbot db upgrade`, then two `signalbot run --http` processes and one `signalbot worker`
share one PostgreSQL schema (on PostgreSQL each web process runs its own worker too, so
three processes sweep and deliver; on SQLite, which the bot runs as one writer of clocks,
the web processes get `--no-worker`). CSMs log Hot signals through both web processes
(`/signal` on one, the modal submission on the other) with an acknowledge SLA of 3 s and
one escalation level every 3 s after it; nobody acknowledges, so every signal escalates to
its AE's manager, then to the manager's director.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from bench.common import Options, Report, database, per_database
from bench.data import Team
from bench.procs import (
    bot_env,
    cli,
    command,
    healthy,
    modal,
    post,
    running,
    signal_values,
    submission,
    upgrade,
    web,
)
from standin import SlackStandin
from storage.db import make_engine, unit_of_work
from storage.db import session_factory as factory_of
from storage.models import Escalation, OutboxMessage, Signal

NAME = "replicas"
LEVELS = 2  # protocol.sla.MAX_LEVEL: the manager, then the director
SLA = """sla:
  hot: {{ack: {0}s, contact: 1h}}
escalation:
  repeat_after: {0}s
scheduler:
  sweep_interval: 1s
"""
HEADERS = ["database", "processes", "CSMs × signals", "submissions sent", "acked", "stored",
           "escalations expected", "decided", "escalation DMs", "each exactly once",
           "duplicates()", "seconds to the last DM"]


def _log_signals(urls: list[str], view: dict, team: Team, per_csm: int) -> tuple[int, int]:
    """Every CSM (a thread) logs `per_csm` signals; returns (sent, acked)."""
    counts = Counter()
    lock = threading.Lock()

    def csm(i: int, user: str) -> None:
        for j in range(per_csm):
            first, second = urls[(i + j) % 2], urls[(i + j + 1) % 2]
            ae = team.aes[(i * per_csm + j) % len(team.aes)]
            ok = post(first, command(user, "hot")).status_code == 200
            values = signal_values(f"Replica Account {i}-{j}", ae)
            answer = post(second, submission(view, f"VREPL{i:03d}{j:04d}", user, values))
            ok &= answer.status_code == 200 and "response_action" not in answer.text
            with lock:
                counts["sent"] += 1
                counts["acked"] += ok

    threads = [threading.Thread(target=csm, args=(i, u)) for i, u in enumerate(team.csms)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return counts["sent"], counts["acked"]


def _escalation_keys(url: str) -> tuple[int, int, list[str]]:
    """(signals stored, escalations decided, keys of the escalation cards queued)."""
    engine = make_engine(url)
    try:
        with unit_of_work(factory_of(engine)) as session:
            stored = session.scalar(select(func.count()).select_from(Signal))
            decided = session.scalar(select(func.count()).select_from(Escalation))
            keys = session.scalars(select(OutboxMessage.key).where(
                OutboxMessage.key.like("card:%:manager:%"))).all()
        return stored, decided, list(keys)
    finally:
        engine.dispose()


def _posted(standin: SlackStandin) -> Counter:
    return Counter((m.get("metadata") or {}).get("event_payload", {}).get("key")
                   for m in standin.all_posts())


def _one(db: str, opts: Options, report: Report) -> bool:
    csms, per_csm = opts.pick((8, 5), (2, 2), (2, 1))
    team = Team.make(csms=csms, aes=max(2, csms * per_csm // 2), teams=5, directors=2)
    flags = () if db == "postgres" else ("--no-worker",)
    with SlackStandin() as standin, database(db, NAME) as url, \
            tempfile.TemporaryDirectory(prefix="bench-replicas-") as tmp:
        folder = Path(tmp)
        team.register(standin)
        env = bot_env(folder, url, standin, team.yaml(SLA.format(opts.pick(3, 3, 1))))
        upgrade(folder, env)
        webs = [web(folder, env, *flags, name=f"web{i}", wait=False) for i in range(2)]
        worker = cli(folder, env, "worker", name="worker")
        with running(*webs, worker):
            for proc in webs:
                healthy(proc)
            view = modal(webs[0].url, standin, team.csms[0])
            start = time.monotonic()
            sent, acked = _log_signals([w.url for w in webs], view, team, per_csm)
            deadline = time.monotonic() + opts.pick(180, 90, 60)
            last = None
            while time.monotonic() < deadline:
                stored, decided, keys = _escalation_keys(url)
                posted = _posted(standin)
                if decided >= LEVELS * stored and all(posted[k] for k in keys):
                    last = time.monotonic() - start
                    break
                time.sleep(0.5)
            time.sleep(opts.pick(5, 2, 1))  # anything sent twice would show by now
            stored, decided, keys = _escalation_keys(url)
            posted = _posted(standin)
            duplicates = standin.duplicates()
    once = sum(1 for k in keys if posted[k] == 1)
    delivered = sum(posted[k] for k in keys)
    expected = LEVELS * stored
    report.rows.append([db, "2 web + 1 worker" + (" (3 sweepers)" if not flags else ""),
                        f"{csms} × {per_csm}", sent, acked, stored, expected, decided, delivered,
                        once, len(duplicates), f"{last:.1f}" if last else "timed out"])
    return (sent == acked == stored and decided == expected == len(keys) == once == delivered
            and not duplicates)


def run(opts: Options) -> Report:
    report = Report(NAME, "Replicas: two web processes and a worker (replicas)",
                    "submissions sent = stored; every escalation decided once and its DM "
                    "delivered once; no duplicates", opts.command, HEADERS)
    report.notes.append(
        f"SLA: Hot ack {opts.pick(3, 3, 1)} s, one escalation level every as many seconds "
        "after it (level 1: the AE's "
        "manager, level 2: the manager's director), sweep every 1 s. *Escalation DMs*: "
        "messages in the stand-in carrying the key of an escalation card (outbox keys "
        "`card:<signal>:manager:<user>:...`). Each CSM is a thread sending `/signal` to one "
        "web process and the submission to the other. The full run uses PostgreSQL only "
        "(`--quick` / the smoke test run it on SQLite, web processes with `--no-worker`).")
    dbs = opts.dbs if opts.quick or opts.smoke or "postgres" not in opts.dbs else ("postgres",)
    per_database(dbs, report, lambda db: _one(db, opts, report),
                 lambda ok: "exactly once" if ok else "MISSED")
    return report
