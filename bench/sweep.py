"""sweep: what one SLA sweep of 1,000 due clocks costs as the history grows to a million.

Each size is a year of signals (`bench.data.history`: mostly closed, their clocks' next_step_at
NULL; the young ones open with clocks ahead) plus 1,000 clocks due now. One run is
`service.sweep.sweep(session, config, now, limit=1000)` and a flush of what it wrote, timed,
then rolled back, so every run sees the same data.
"""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from bench import data
from bench.common import Options, Report, Skip, median, ms
from service.sweep import sweep
from storage.db import make_engine, session_factory
from storage.models import Deadline

NAME = "sweep"
LIMIT = 1000
TARGET = 0.150  # issue 16 (it was 250 ms in issue 6)
BATCH = 500  # the worker's batch (bot.worker.SWEEP_BATCH)
MAX_STATEMENTS = 20  # per batch, whatever it holds
INDEX = "ix_deadlines_next_step_at_due"
HEADERS = ["database", "signals", "clocks", "clocks ahead (in the index)", "due", "handled",
           "median ms", "min ms", "max ms", "SQL statements", "statements per 500-clock batch",
           "× the smallest", "load avg (1 min)"]


class Statements:
    """Counts the statements an engine sends, and keeps the first that matches `keep`."""

    def __init__(self, engine: Any, keep: str):
        self.count, self.kept, self.keep = 0, None, keep
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.count += 1
        if self.kept is None and self.keep in statement:
            self.kept = (statement, parameters)


def _sizes(db: str, opts: Options) -> tuple[int, ...]:
    if db == "postgres":
        return opts.pick((10_000, 100_000, 1_000_000), (10_000, 100_000), (1_000,))
    return opts.pick((10_000, 100_000), (10_000,), (1_000,))


def _counts(session: Session) -> tuple[int, int, int]:
    total = session.scalar(select(func.count()).select_from(Deadline))
    ahead = session.scalar(select(func.count(Deadline.next_step_at)))
    due = session.scalar(select(func.count()).where(Deadline.next_step_at <= data.NOW))
    return total, ahead, due


def measure(url: str, runs: int, limit: int = LIMIT) -> dict[str, Any]:
    """Time `runs` sweeps (each rolled back); also the plan of the sweep's SELECT."""
    engine = make_engine(url)
    factory = session_factory(engine)
    config = data.TEAM.config()
    seen = Statements(engine, "FROM deadlines")
    times, handled, statements = [], 0, 0
    try:
        for _ in range(runs):
            with factory() as session:
                before = seen.count
                start = time.perf_counter()
                handled = sweep(session, config, data.NOW, limit=limit)
                session.flush()
                times.append(time.perf_counter() - start)
                statements = seen.count - before
                session.rollback()
            _vacuum(engine)
        with factory() as session:  # the worker's batch size, counted (not timed)
            before = seen.count
            sweep(session, config, data.NOW, limit=BATCH)
            session.flush()
            per_batch = seen.count - before
            session.rollback()
        _vacuum(engine)
        with factory() as session:
            total, ahead, due = _counts(session)
        plan = explain(engine, *seen.kept) if seen.kept else ""
    finally:
        engine.dispose()
    return {"times": times, "handled": handled, "statements": statements, "total": total,
            "ahead": ahead, "due": due, "plan": plan, "per_batch": per_batch,
            "load": os.getloadavg()[0]}


def _vacuum(engine: Any) -> None:
    """Clear what the rolled-back run left behind (dead rows, index entries) on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM deadlines, escalations, signal_events, outbox, signals")


def explain(engine: Any, statement: str, parameters: Any) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, EXPLAIN QUERY PLAN on SQLite; rolled back."""
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + statement, parameters).all()
        conn.rollback()
    return "\n".join(str(row[0] if postgres else row[-1]) for row in rows)


def run(opts: Options) -> Report:
    runs = opts.pick(5, 3, 1)
    report = Report(NAME, "Sweep cost versus history (sweep)",
                    f"one `sweep(limit={LIMIT})` of 1,000 due clocks ≤ 150 ms at 1M signals "
                    "(PostgreSQL) and at 100k (SQLite), within 1.5× of the 10k figure; ≤ 20 SQL "
                    "statements per 500-clock batch", opts.command, HEADERS)
    report.notes.append(
        f"Median of {runs} runs, each in its own transaction, rolled back after "
        "`session.flush()` (so the figure is the sweep's reads and writes, without the "
        "commit's fsync), then (PostgreSQL) a VACUUM of the touched tables. Half the due "
        "clocks owe a reminder, half a missed-SLA escalation "
        "(an `Escalation`, an event, a manager card, two notices and a card refresh); each "
        "keeps the snapshot of the SLA policy it started under, as the bot writes it. "
        "*Clocks ahead* are the "
        "rows in the partial index (next_step_at NOT NULL); the rest of the history is NULL "
        "there. Loaded with COPY (PostgreSQL) / executemany of Core inserts (SQLite), one "
        "block copied by `INSERT ... SELECT`, then VACUUM ANALYZE.")
    verdicts = []
    for db in opts.dbs:
        try:
            figures = [(size, measure(data.shared_history(db, size,
                                                          opts.pick(1000, 1000, 50)), runs))
                       for size in _sizes(db, opts)]
        except Skip as exc:
            report.skipped.append(f"{db}: {exc}")
            continue
        base = median(figures[0][1]["times"])
        for size, f in figures:
            t = median(f["times"])
            report.rows.append([db, f"{size:,}", f"{f['total']:,}", f"{f['ahead']:,}", f["due"],
                                f["handled"], ms(t), ms(min(f["times"])), ms(max(f["times"])),
                                f["statements"], f["per_batch"], f"{t / base:.2f}",
                                f"{f['load']:.1f}"])
        size, last = figures[-1]
        t = median(last["times"])
        met = t <= TARGET and t / base <= 1.5 and last["per_batch"] <= MAX_STATEMENTS
        report.ok &= met
        verdicts.append(f"{db} at {size:,}: {ms(t)} ms, {t / base:.2f}× the smallest "
                        f"({'met' if met else 'MISSED'})")
        uses = INDEX in last["plan"]
        verdicts.append(f"{db} plan uses {INDEX}: {'yes' if uses else 'NO'}")
        report.blocks.append((f"Plan of the sweep's SELECT on {db} at {size:,} signals:",
                              last["plan"]))
    report.verdict = "; ".join(verdicts) or "not run"
    return report
