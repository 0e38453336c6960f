"""soak: the resident memory of `signalbot run` idle and over a long steady load (issue 16).

`signalbot run --http --migrate` as deployed (its default web processes and the worker)
takes the ack benchmark's traffic (bench/loadgen.py: `/signal`, valid and invalid
submissions) at 20 req/s for 10 minutes. The resident memory (RSS) of every process of
the run is sampled every 5 s; once warm it must not grow: the last minute's mean is compared
with the middle minute's (the first minutes fill caches, pools and allocator arenas; the
first minute's figure is reported too). RSS is the sum over every process of the run
(supervisor, gunicorn arbiter and web processes, worker), read from /proc.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.ack import RssSampler, load, rss_mib, rss_parts
from bench.common import Options, Report, Skip, database, median, ms, percentile
from bench.data import Team
from bench.procs import bot_env, modal, running, web
from standin import SlackStandin

NAME = "soak"
RATE = 20
GROWTH_MIB = 10.0  # the last minute may exceed the first by this much (allocator noise)
HEADERS = ["database", "minute", "RSS MiB (all processes, mean)", "RSS MiB max"]


def _minutes(samples: list[tuple[float, float]]) -> list[tuple[int, float, float]]:
    by_minute: dict[int, list[float]] = {}
    for at, mib in samples:
        by_minute.setdefault(int(at // 60), []).append(mib)
    return [(m, sum(v) / len(v), max(v)) for m, v in sorted(by_minute.items())]


def run(opts: Options) -> Report:
    """On each database: idle RSS, then `RATE` req/s for ten minutes, sampled; start, end,
    peak."""
    seconds = float(os.environ.get("SIGNALBOT_BENCH_SOAK_SECONDS") or opts.pick(600, 60, 2))
    report = Report(
        NAME, "Memory over a soak (soak)",
        f"the RSS of all `signalbot run` processes does not grow over {seconds:g} s at "
        f"{RATE} req/s once warm (the last minute's mean ≤ the middle minute's + "
        f"{GROWTH_MIB:g} MiB; the first minutes fill caches, pools and allocator arenas)",
        opts.command, HEADERS)
    verdicts = []
    for db in opts.dbs:
        try:
            verdicts.append(_one_database(db, seconds, opts, report))
        except Skip as exc:
            report.skipped.append(f"{db}: {exc}")
    report.verdict = "; ".join(verdicts) or "not run"
    return report


def _one_database(db: str, seconds: float, opts: Options, report: Report) -> str:
    team = Team.make(csms=40, aes=40, teams=5)
    with SlackStandin() as standin, database(db, NAME) as url, \
            tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        folder = Path(tmp)
        team.register(standin)
        bot = web(folder, bot_env(folder, url, standin, team.yaml()), "--migrate")
        with running(bot):
            view = modal(bot.url, standin, team.csms[0])
            time.sleep(opts.pick(5.0, 2.0, 0.2))
            idle, parts = rss_mib(bot.proc.pid), rss_parts(bot.proc.pid)
            with RssSampler(bot.proc.pid, every=opts.pick(5.0, 2.0, 0.5)) as rss:
                results = load(folder, bot.url, RATE, seconds, view, team, "soak",
                               standin.response_url("soak"))
            after, parts_after = rss_mib(bot.proc.pid), rss_parts(bot.proc.pid)
    minutes = _minutes(rss.samples)
    report.rows += [[db, m + 1, f"{mean:.0f}", f"{top:.0f}"] for m, mean, top in minutes]
    start, end = minutes[0][1], minutes[-1][1]
    middle = minutes[len(minutes) // 2][1]  # after the warm-up (caches, pools, arenas)
    grew = end - middle
    ok = grew <= GROWTH_MIB
    report.ok &= ok
    latencies = [r["latency"] for r in results]
    errors = sum(1 for r in results if r["outcome"] != "ok")
    kinds: dict[str, int] = {}
    for r in results:
        if r["outcome"] != "ok":
            kinds[f"{r['kind']} {r['outcome']}"] = kinds.get(f"{r['kind']} {r['outcome']}", 0) + 1
    report.notes.append(
        f"{db}: {len(results)} requests in {seconds:g} s ({RATE} req/s open loop, the ack "
        f"benchmark's mix); p50 {ms(median(latencies))} ms, p99 "
        f"{ms(percentile(latencies, 99))} ms, {errors} errors"
        + (f" ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})" if kinds else "")
        + ". Idle, by process: "
        + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in parts) + "; at the end: "
        + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in parts_after) + ".")
    return (f"{db}: RSS idle {idle:.0f} MiB; over the soak start {start:.0f}, end {end:.0f}, "
            f"peak {rss.peak:.0f} MiB, {after:.0f} after; {end - start:+.0f} MiB from the first "
            f"minute, {grew:+.0f} MiB over the second half ({'met' if ok else 'MISSED'})")
