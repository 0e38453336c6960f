"""digest: the weekly digest over a year of a million signals, and the plans of its queries.

Times `service.digest.build_digest` (which runs `compute_digest` for last week) on the
`bench.data.history` year: first with no SLA week kept, then with the week before to keep
(a Monday's), then with every settled week kept (the timed runs); collects every statement
the last one sends (SQLAlchemy `before_cursor_execute`), labels each with the digest
function that sent it, and runs EXPLAIN (ANALYZE, BUFFERS) on it (EXPLAIN QUERY PLAN on
SQLite) to show the index each uses.
"""

from __future__ import annotations

import os
import re
import sys
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, select

from bench import data
from bench.common import Options, Report, Skip, median, ms, table
from bot.services import Services
from bot.settings import Settings
from storage.db import make_engine, session_factory
from storage.models import SlaRollup, SlaRollupWeek

NAME = "digest"
TARGET = 0.300  # issue 16 (it was 1 s in issue 6)
WATCHED = ("signals", "signal_events")
HEADERS = ["database", "signals", "events", "median ms", "min ms", "max ms",
           "first digest ms (nothing kept)", "a Monday's ms (the week before to keep)",
           "SQL statements", "week queries with a Seq Scan on signals / signal_events",
           "load avg (1 min)"]
PLAN_HEADERS = ["#", "sent by", "ms (EXPLAIN ANALYZE)", "indexes used", "full scans"]
_PG_INDEX = re.compile(r"(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)")
_PG_SEQ = re.compile(r"Seq Scan on (\w+)")
_LITE_STEP = re.compile(r"(SCAN|SEARCH) (\w+)")
_LITE_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\w+)")


class Collector:
    """Every statement an engine sends, with the digest function (chain) that sent it."""

    def __init__(self, engine: Any):
        self.statements: list[tuple[str, str, Any]] = []
        self.weeks: dict[Any, str] = {}
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        chain, frame = [], sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            if code.co_filename.endswith("service/sla_weeks.py") and code.co_name != "<lambda>":
                chain.append(code.co_name)  # the SLA counts: kept weeks read, live counted
            elif code.co_filename.endswith("service/digest.py") and \
                    not code.co_name.startswith("_"):
                chain.append(code.co_name)
                if code.co_name == "compared_figures":  # the week before's, compared
                    chain[-1] = "previous week"
                if code.co_name == "week_figures":  # the first week asked for is "the week"
                    which = self.weeks.setdefault(frame.f_locals.get("start"), (
                        "week", "previous week")[min(len(self.weeks), 1)])
                    chain[-1] = which
            frame = frame.f_back
        chain = [name for name in reversed(chain) if name not in ("build_digest", "compute_digest")]
        self.statements.append((" > ".join(chain) or "compute_digest", statement, parameters))


def _plan(engine: Any, statement: str, parameters: Any) -> tuple[str, float | None]:
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
        return "(not a query)", None
    with engine.connect() as conn:
        if postgres:
            conn.exec_driver_sql("SET LOCAL jit = off")  # as compute_digest runs them
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        conn.rollback()
    text = "\n".join(str(row[0] if postgres else row[-1]) for row in rows)
    took = re.search(r"Execution Time: ([\d.]+) ms", text)
    return text, float(took.group(1)) / 1000 if took else None


def _scans(plan: str, postgres: bool) -> tuple[list[str], list[str]]:
    """(indexes used, tables read in full) in a plan."""
    if postgres:
        return sorted(set(_PG_INDEX.findall(plan))), sorted(set(_PG_SEQ.findall(plan)))
    indexes, full = set(), set()
    for line in plan.splitlines():
        step = _LITE_STEP.search(line)
        if step is None:
            continue
        if (index := _LITE_INDEX.search(line)) is not None:
            indexes.add(index.group(1))
        elif "PRIMARY KEY" in line:
            indexes.add(f"{step.group(2)} primary key")
        elif step.group(1) == "SCAN":
            full.add(step.group(2))
    return sorted(indexes), sorted(full)


def _sizes(db: str, opts: Options) -> int:
    if db == "postgres":
        return opts.pick(1_000_000, 100_000, 1_000)
    return opts.pick(100_000, 10_000, 1_000)


def _forget(engine: Any, since: Any = None) -> None:
    """Drop the kept SLA weeks (`service.sla_weeks`): all of them, or those from `since`."""
    weeks = select(SlaRollupWeek.id)
    if since is not None:
        weeks = weeks.where(SlaRollupWeek.starts >= since)
    with engine.begin() as conn:
        conn.execute(delete(SlaRollup).where(SlaRollup.week_id.in_(weeks)))
        conn.execute(delete(SlaRollupWeek).where(SlaRollupWeek.id.in_(weeks)))


def _timed(services: Services, build: Any) -> float:
    start = time.perf_counter()
    build(services)
    return time.perf_counter() - start


def _one(db: str, opts: Options, report: Report) -> tuple[float, int]:
    from service.digest import build_digest, week_bounds  # here: being written while this was

    signals = _sizes(db, opts)
    url = data.shared_history(db, signals, opts.pick(1000, 1000, 50))
    engine = make_engine(url)
    config = data.TEAM.config(digest_channel="C0DIGEST01")
    services = Services(Settings(database_url=url), config, engine, session_factory(engine),
                        clock=lambda: data.NOW)
    week_start, _ = week_bounds(data.NOW, config)
    previous, _ = week_bounds(data.NOW, config, week_start.astimezone(config.timezone).date()
                              - timedelta(days=7))
    times = []
    try:
        load = os.getloadavg()[0]
        _forget(engine)
        first = _timed(services, build_digest)  # nothing kept: it keeps the settled weeks
        _forget(engine, previous)
        monday = _timed(services, build_digest)  # the week before to keep, as each Monday
        for _ in range(opts.pick(5, 3, 1)):
            collector = Collector(engine)
            times.append(_timed(services, build_digest))
            event.remove(engine, "before_cursor_execute", collector._seen)
        counts = data.count(engine)
        postgres = engine.dialect.name == "postgresql"
        plans, bad = [], 0
        for i, (label, statement, parameters) in enumerate(collector.statements, 1):
            plan, took = _plan(engine, statement, parameters)
            indexes, full = _scans(plan, postgres)
            watched = [t for t in full if t in WATCHED]
            bad += bool(watched and label.startswith(("week", "previous week")))
            plans.append([i, f"`{label}`", ms(took) if took is not None else "",
                          ", ".join(indexes) or "-", ", ".join(full) or "-"])
            if watched or label.endswith("_count"):
                report.blocks.append((f"{db}, query {i} (`{label}`):",
                                      f"{statement}\n\n{plan}"))
    finally:
        engine.dispose()
    t = median(times)
    report.rows.append([db, f"{counts['signals']:,}", f"{counts['signal_events']:,}", ms(t),
                        ms(min(times)), ms(max(times)), ms(first), ms(monday),
                        len(collector.statements), bad, f"{load:.1f}"])
    report.notes.append(f"Queries on {db} ({signals:,} signals), the last timed run:\n\n"
                        + table(PLAN_HEADERS, plans))
    return t, bad


def run(opts: Options) -> Report:
    report = Report(NAME, "Weekly digest over a year (digest)",
                    "`compute_digest` for one week ≤ 300 ms over a year of 1M signals on "
                    "PostgreSQL; no Seq Scan on `signals` or `signal_events` for the week's "
                    "figures", opts.command, HEADERS)
    report.notes.append(
        "The year is `bench.data.history`: signals logged evenly over 365 days with their "
        "events, clocks and escalations. Timed: `service.digest.build_digest` (last week's "
        "digest as of Monday 2026-11-23 15:00 UTC: the week, the week before, the quarter's "
        "funnel and CSM quality, what is stalled now). The SLA figures of settled weeks are "
        "kept by the digest that first counts them (`service.sla_weeks`), so the timed runs "
        "(median, min, max) are digests of a week whose trend weeks are already kept, as "
        "every digest after the first of the week is; beside them, the *first digest* with "
        "nothing kept (it counts all eight weeks and keeps seven) and *a Monday's*, whose "
        "week before is counted and kept (the weeks before that were kept by earlier "
        "Mondays' digests). Every statement of the last run is then explained; *sent by* "
        "names the digest functions on the stack ('week' is `week_figures`, 'previous week' "
        "`compared_figures`; `_kept` reads the kept weeks, `_count` counts the others).")
    verdicts = []
    for db in opts.dbs:
        try:
            took, bad = _one(db, opts, report)
        except Skip as exc:
            report.skipped.append(f"{db}: {exc}")
            continue
        except ImportError as exc:
            report.skipped.append(f"{db}: service.digest is not importable yet ({exc})")
            continue
        met = took <= TARGET and bad == 0
        if db == "postgres":
            report.ok &= met
        verdicts.append(f"{db}: {ms(took)} ms, {bad} week queries with a Seq Scan on "
                        f"signals/signal_events ({'met' if met else 'MISSED'})")
    report.verdict = "; ".join(verdicts) or "not run"
    return report
