"""ack: how fast the real bot acknowledges Slack under load, beside the floor, and that no
submission is lost (issues 6 and 16).

`signalbot run --http --migrate` (as deployed, with its default web workers: gunicorn, one
web process per core, plus the one worker process) and the floor (bench/floor.py: the
least a correct bot must do, on the same server with the same worker and thread counts)
talk to one Slack stand-in in this process, on one database. A load generator process
sends each of them, in turn at every rate, the same signed `/signal` commands and
signal-modal submissions (valid ones, each under its own view id, and invalid ones without
a buyer) open-loop. Afterwards every valid submission that was acked 200 without errors
must be a row (by submission key).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench.common import (
    ROOT,
    Options,
    Report,
    Skip,
    database,
    free_port,
    median,
    ms,
    percentile,
    table,
)
from bench.data import Team
from bench.floor import SIGNALS as FLOOR_SIGNALS
from bench.procs import SECRET, Proc, bot_env, healthy, modal, running, web
from standin import SlackStandin
from storage.db import make_engine
from storage.models import OutboxMessage, Signal

NAME = "ack"
TARGET_RATE, P99_RATIO, CPU_RATIO = 100, 3.0, 2.0
HEADERS = ["database", "bot", "load avg 1 min", "rate (req/s)", "seconds", "requests",
           "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "> 3 s", "valid acked", "stored",
           "lost", "CPU ms / valid submission", "of which web processes",
           "modals opened / commands",
           "told to retry", "RSS MiB idle → peak", "generator lag p99 ms"]
RATIO_HEADERS = ["database", "rate (req/s)", "load avg 1 min", "p99 ms signalbot",
                 "p99 ms floor", "p99 ratio", "CPU ms / valid signalbot", "CPU ms / valid floor",
                 "CPU ratio", "web processes' CPU ratio"]
TICK = os.sysconf("SC_CLK_TCK")
PAGE_MIB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _processes() -> tuple[dict[int, list[int]], dict[int, list[str]]]:
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        stats[int(entry.name)] = fields
    return children, stats


def _tree(pid: int) -> tuple[list[int], dict[int, list[str]]]:
    children, stats = _processes()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found, stats


def _target_seconds() -> float:
    """Seconds at the target rate: 10, or SIGNALBOT_BENCH_ACK_SECONDS for a steadier p99."""
    return float(os.environ.get("SIGNALBOT_BENCH_ACK_SECONDS") or 10.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and every process below it (all threads):
    the supervisor, gunicorn's arbiter and web processes, and the worker."""
    pids, stats = _tree(pid)
    return sum((int(stats[p][11]) + int(stats[p][12])) / TICK for p in pids if p in stats)


def cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds so far of the web processes (gunicorn's, where requests are acked) and of
    the rest (the worker that delivers, the supervisor) below `pid`."""
    pids, stats = _tree(pid)
    out = {"web": 0.0, "rest": 0.0}
    for current in pids:
        if current not in stats:
            continue
        role = "web" if _is_web(current) else "rest"
        out[role] += (int(stats[current][11]) + int(stats[current][12])) / TICK
    return out


def _is_web(pid: int) -> bool:
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"web" in words or b"bench.floor" in words


def rss_mib(pid: int) -> float:
    """Resident memory (MiB) of a process and every process below it."""
    pids, stats = _tree(pid)
    return sum(int(stats[p][21]) * PAGE_MIB for p in pids if p in stats)


def rss_parts(pid: int) -> list[tuple[str, float]]:
    """(what the process is, MiB) for a process and every process below it."""
    pids, stats = _tree(pid)
    out = []
    for index, current in enumerate(pids):
        try:
            words = Path(f"/proc/{current}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        command = [w.decode(errors="replace") for w in words if w]
        role = next((w for w in command if w in ("run", "web", "worker", "socket")), "?")
        name = {"run": "supervisor", "web": "gunicorn", "worker": "worker"}.get(role, role)
        if role == "web":
            name = "gunicorn arbiter" if current in stats and index and int(
                stats[current][1]) not in pids[1:] else "gunicorn web process"
        out.append((name, int(stats[current][21]) * PAGE_MIB if current in stats else 0.0))
    return out


class RssSampler:
    """The peak of `rss_mib(pid)`, sampled every `every` seconds while the block runs."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss")

    def _run(self) -> None:
        start = time.monotonic()
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - start, rss_mib(self.pid)))
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return max((mib for _, mib in self.samples), default=float("nan"))


def load(folder: Path, url: str, rate: int, seconds: float, view: dict, team: Team,
         prefix: str, response_url: str | None = None) -> list[dict[str, Any]]:
    """Run the load generator once against `url`; its results."""
    spec = {"url": url, "rate": rate, "seconds": seconds, "view": view, "csms": team.csms,
            "aes": team.aes, "prefix": prefix, "seed": rate, "response_url": response_url}
    spec_file, out_file = folder / f"{prefix}.json", folder / f"{prefix}.out.json"
    spec_file.write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec_file), str(out_file)],
                   cwd=ROOT, check=True, timeout=seconds + 180)
    return json.loads(out_file.read_text())


def _stored(url: str, keys: list[str], floor: bool) -> set[str]:
    column = FLOOR_SIGNALS.c.submission_key if floor else Signal.submission_key
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found: set[str] = set()
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                found |= set(conn.scalars(select(column).where(column.in_(chunk))))
            return found
    finally:
        engine.dispose()


@dataclass
class Bot:
    """One of the two bots under test and what it has cost so far."""

    name: str
    proc: Proc
    floor: bool
    delivers: bool = True  # has a worker: the run waits for its outbox to drain
    idle_rss: float = float("nan")
    idle_cpu: float = 0.0  # CPU seconds per second with nothing to do (timers, polling)
    extra: dict[str, Any] = field(default_factory=dict)

    def settle(self, seconds: float) -> None:
        """Measure the idle memory and the idle CPU rate over `seconds` of quiet."""
        self.idle_rss = rss_mib(self.proc.proc.pid)
        before, started = cpu_seconds(self.proc.proc.pid), time.monotonic()
        time.sleep(seconds)
        self.idle_cpu = (cpu_seconds(self.proc.proc.pid) - before) / (time.monotonic() - started)


def start_floor(folder: Path, url: str, standin: SlackStandin, view: dict) -> Proc:
    """bench/floor.py on a free port, with the bot's default worker and thread counts."""
    view_file = folder / "view.json"
    view_file.write_text(json.dumps(view))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNALBOT_"))}
    env.update(SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=standin.base_url,
               PYTHONPATH=str(ROOT))
    log = folder / "floor.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.floor", "--database", url, "--view", str(view_file),
             "--port", str(port)], env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    return healthy(Proc(proc, log, f"http://127.0.0.1:{port}"))


def drained(bot: Bot, url: str, timeout: float = 120.0) -> None:
    """Wait until the bot's outbox has nothing due (the worker delivered what the run
    caused), asked of the database from here (not of the bot: that would cost it CPU); the
    floor sends its DMs in-process, a moment is enough."""
    if bot.floor or not bot.delivers:
        time.sleep(0.5)
        return
    engine = make_engine(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if not conn.scalar(select(func.count()).select_from(OutboxMessage).where(
                        OutboxMessage.status.in_(("pending", "sending")),
                        OutboxMessage.due_at <= datetime.now(UTC))):
                    return
            time.sleep(0.25)
    finally:
        engine.dispose()


def measure(bot: Bot, folder: Path, url: str, standin: SlackStandin, rate: int,
            seconds: float, view: dict, team: Team, db: str) -> tuple[list, dict]:
    """One run of one bot at one rate: its table row and the figures the verdict needs.

    CPU is counted from before the first request until the outbox is drained: the cards a
    submission causes are part of its cost (the floor's DM is sent inside the run)."""
    load_avg = os.getloadavg()[0]  # other work on the machine, before this run
    opened = len(standin.views_opened())
    refused = _expired(standin)
    told = len(standin.responses)
    cpu, started = cpu_seconds(bot.proc.proc.pid), time.monotonic()
    roles = cpu_by_role(bot.proc.proc.pid)
    with RssSampler(bot.proc.proc.pid) as rss:
        results = load(folder, bot.proc.url, rate, seconds, view, team,
                       f"{'f' if bot.floor else 's' if bot.delivers else 'n'}{rate}",
                       standin.response_url("retry"))
        drained(bot, url)
    cpu = cpu_seconds(bot.proc.proc.pid) - cpu - bot.idle_cpu * (time.monotonic() - started)
    roles = {k: v - roles[k] for k, v in cpu_by_role(bot.proc.proc.pid).items()}
    latencies = [r["latency"] for r in results]
    errors = [r for r in results if r["outcome"] != "ok"]
    acked = [f"view:{r['view_id']}" for r in results
             if r["kind"] == "valid" and r["outcome"] == "ok"]
    stored = _stored(url, acked, bot.floor)
    commands = sum(1 for r in results if r["kind"] == "command")
    opened = len(standin.views_opened()) - opened
    figures = {"p99": percentile(latencies, 99), "lost": len(acked) - len(stored),
               "cpu": cpu / max(len(acked), 1), "web": roles["web"] / max(len(acked), 1),
               "errors": sorted({r["outcome"] for r in errors}),
               "load": load_avg, "expired": _expired(standin) - refused, "peak": rss.peak}
    row = [db, bot.name, f"{load_avg:.2f}", rate, f"{seconds:g}", len(results),
           ms(median(latencies)), ms(percentile(latencies, 95)), ms(figures["p99"]),
           ms(max(latencies, default=float("nan"))), len(errors),
           sum(1 for x in latencies if x > 3), len(acked), len(stored), figures["lost"],
           ms(figures["cpu"]), ms(figures["web"]), f"{opened} / {commands}",
           len(standin.responses) - told,
           f"{bot.idle_rss:.0f} → {rss.peak:.0f}",
           ms(percentile([r["lag"] for r in results], 99))]
    return row, figures


def _expired(standin: SlackStandin) -> int:
    return sum(1 for r in standin.rejections if r.error == "expired_trigger_id")


def _one_database(db: str, opts: Options, report: Report) -> dict[int, dict[str, dict]]:
    """signalbot and the floor on one fresh database, every rate, each in turn."""
    rates = opts.pick((10, 50, 100, 200), (10, 100), (10,))
    team = Team.make(csms=40, aes=40, teams=5)
    figures: dict[int, dict[str, dict]] = {}
    with SlackStandin() as standin, database(db, NAME) as url, \
            tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        folder = Path(tmp)
        team.register(standin)
        signalbot = web(folder, bot_env(folder, url, standin, team.yaml()), "--migrate")
        with running(signalbot):
            view = modal(signalbot.url, standin, team.csms[0])
            floor = start_floor(folder, url, standin, view)
            with running(floor):
                bots = [Bot("floor", floor, True), Bot("signalbot", signalbot, False)]
                if not opts.smoke:
                    for bot in bots:  # not reported
                        load(folder, bot.proc.url, 10, 1.0, view, team,
                             f"warm{bot.floor}", standin.response_url("warm"))
                        drained(bot, url)
                for bot in bots:
                    bot.settle(opts.pick(5.0, 2.0, 0.5))
                for rate in rates:
                    seconds = opts.pick(_target_seconds() if rate == TARGET_RATE else 5.0,
                                        2.0, 1.0)
                    for bot in bots:
                        row, figures.setdefault(rate, {})[bot.name] = measure(
                            bot, folder, url, standin, rate, seconds, view, team, db)
                        report.rows.append(row)
                        time.sleep(opts.pick(2.0, 0.5, 0.0))
                _problems(db, bots, report)
        if not opts.smoke:
            _without_worker(db, folder, url, standin, view, team, opts, report)
    return figures


def _without_worker(db: str, folder: Path, url: str, standin: SlackStandin, view: dict,
                    team: Team, opts: Options, report: Report) -> None:
    """A diagnostic row: `signalbot run --no-worker` at the target rate, so the share of the
    ack's latency that the worker's CPU and (on SQLite) its write transactions cause shows.
    Nothing is delivered meanwhile; not part of the verdict."""
    alone = web(folder, bot_env(folder, url, standin, team.yaml()), "--no-worker",
                name="web-no-worker")
    with running(alone):
        bot = Bot("signalbot --no-worker (diagnostic)", alone, False, delivers=False)
        bot.settle(opts.pick(5.0, 2.0, 0.5))
        seconds = opts.pick(_target_seconds(), 2.0, 1.0)
        row, _ = measure(bot, folder, url, standin, TARGET_RATE, seconds, view, team, db)
        report.rows.append(row)


def _problems(db: str, bots: list[Bot], report: Report) -> None:
    for bot in bots:
        problems = [line for line in bot.proc.log.read_text(errors="replace").splitlines()
                    if " ERROR " in line or "Traceback" in line]
        if problems:
            report.notes.append(f"{db} ({bot.name}): the process logged {len(problems)} error "
                                f"lines; first: `{problems[0][:300]}`")


def _ratios(db: str, figures: dict[int, dict[str, dict]]) -> list[list]:
    rows = []
    for rate, pair in sorted(figures.items()):
        mine, floor = pair["signalbot"], pair["floor"]
        rows.append([db, rate, f"{mine['load']:.2f}", ms(mine["p99"]), ms(floor["p99"]),
                     f"{mine['p99'] / floor['p99']:.1f}×", ms(mine["cpu"]), ms(floor["cpu"]),
                     f"{mine['cpu'] / floor['cpu']:.1f}×", f"{mine['web'] / floor['web']:.1f}×"])
    return rows


def run(opts: Options) -> Report:
    """Every rate on every database; the verdict compares signalbot with the floor."""
    report = Report(
        NAME, "Ack latency under load, beside the floor (ack)",
        f"at {TARGET_RATE} req/s p99 ack ≤ {P99_RATIO:g}× the floor's in the same run; CPU "
        f"per valid submission ≤ {CPU_RATIO:g}× the floor's; zero acked submissions lost",
        opts.command, HEADERS)
    report.notes.append(
        "Each rate runs open-loop for the seconds shown (10 s at the target rate unless "
        "`SIGNALBOT_BENCH_ACK_SECONDS` says more: a p99 of 1,000 requests is their 10th "
        "slowest; after a 1 s "
        "warm-up at 10 req/s, not shown), first against the floor, then against signalbot, "
        "on the same database. The mix is 20% `/signal` commands (each signed as it leaves: "
        "its trigger_id lives 3 s), 60% valid modal submissions (distinct view ids) and 20% "
        "invalid ones (no buyer, answered with `response_action: errors`), spread over 40 "
        "CSMs and 40 AEs. Latency is measured by the client (httpx, a new TCP connection per "
        "request, as Slack's requests arrive) from sending to the last byte of the answer. "
        "*signalbot* is `signalbot run --http --migrate` as deployed (gunicorn with its "
        "default web processes, one per core, of 8 threads, plus the worker process, which "
        "delivers the cards each signal causes meanwhile); *floor* is bench/floor.py on the "
        "same server settings: verify, open the modal lazily, validate, commit one row, ack, "
        "DM the AE from a thread. *CPU ms / valid submission* is the CPU time (/proc) of all "
        "the bot's processes from the first request until its outbox is drained, less what "
        "it spends idle over as long (measured before the first rate), divided by "
        "the valid submissions acked (commands and invalid forms ride along, the same for "
        "both); *of which web processes*: gunicorn's arbiter and web processes only (the "
        "ack path; signalbot's worker delivers the cards, the floor DMs from a thread of "
        "its web process). *Modals opened / commands*: views the stand-in opened (it refuses a "
        "trigger_id older than 3 s, as Slack does); *told to retry*: ephemeral answers sent "
        "when the modal could not open in time. *RSS*: resident memory of all the bot's "
        "processes, idle before the first rate and the peak during this run. The row "
        "*signalbot --no-worker (diagnostic)* runs the target rate once more with no worker "
        "process (nothing delivered): what the worker's CPU and, on SQLite, its write "
        "transactions add to the ack; it is not part of the verdict. *Load avg 1 "
        "min* is the machine's load before the run (2 cores shared with the generator, the "
        "stand-in and the database).")
    verdicts = []
    ratio_rows: list[list] = []
    for db in opts.dbs:
        try:
            figures = _one_database(db, opts, report)
        except Skip as exc:
            report.skipped.append(f"{db}: {exc}")
            continue
        ratio_rows += _ratios(db, figures)
        verdicts += _verdict(db, figures, report)
    if ratio_rows:
        report.notes.insert(0, "**signalbot beside the floor** (same run, same database):\n\n"
                            + table(RATIO_HEADERS, ratio_rows))
    report.verdict = "; ".join(verdicts) or "not run"
    return report


def _verdict(db: str, figures: dict[int, dict[str, dict]], report: Report) -> list[str]:
    out = []
    lost = sum(pair["signalbot"]["lost"] for pair in figures.values())
    at_target = figures.get(TARGET_RATE)
    if at_target:
        mine, floor = at_target["signalbot"], at_target["floor"]
        p99_ratio, cpu_ratio = mine["p99"] / floor["p99"], mine["cpu"] / floor["cpu"]
        p99_ok, cpu_ok = p99_ratio <= P99_RATIO, cpu_ratio <= CPU_RATIO
        out.append(f"{db}: p99 at {TARGET_RATE} req/s {ms(mine['p99'])} ms vs floor "
                   f"{ms(floor['p99'])} ms = {p99_ratio:.1f}× ({'met' if p99_ok else 'MISSED'})")
        out.append(f"{db}: CPU/valid submission {ms(mine['cpu'])} vs {ms(floor['cpu'])} ms = "
                   f"{cpu_ratio:.1f}× ({'met' if cpu_ok else 'MISSED'})")
        report.ok &= p99_ok and cpu_ok
    out.append(f"{db}: {lost} lost ({'met' if lost == 0 else 'MISSED'})")
    report.ok &= lost == 0
    kinds = sorted({e for pair in figures.values() for f in pair.values() for e in f["errors"]})
    if kinds:
        report.notes.append(f"{db}: error kinds seen: {', '.join(kinds)}")
    return out
