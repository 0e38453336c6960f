"""What every benchmark shares: options, machine facts, databases, timing, the report writer."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, text

from storage.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
PG_URL = os.environ.get(
    "SIGNALBOT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ORDER = ("ack", "sweep", "apscheduler", "digest", "delivery", "replicas", "soak", "slackclient")
SHARED = ExitStack()  # data sets kept for the whole run (closed by bench.__main__)


@dataclass
class Options:
    """How a benchmark is run: quick or full, on which databases, written where."""

    quick: bool = False
    smoke: bool = False  # the smallest run there is (tests/test_bench_smoke.py)
    dbs: tuple[str, ...] = ("sqlite", "postgres")
    out: Path = DOC
    command: str = "python -m bench"
    latency: float = 0.15  # seconds the Slack stand-in takes to answer a call (delivery)

    def pick(self, full: Any, quick: Any, smoke: Any = None) -> Any:
        """The value for this run's size."""
        if self.smoke and smoke is not None:
            return smoke
        return quick if (self.quick or self.smoke) else full


class Skip(Exception):
    """A part of a benchmark that cannot run here (e.g. no PostgreSQL); the reason is shown."""


# -- machine ---------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def pg_version() -> str:
    """The PostgreSQL server version, or why it is not reachable."""
    problem = pg_problem()
    if problem:
        return f"not reachable ({problem})"
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures."""
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "CPU": _cpu_model(),
        "RAM": _ram(),
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": pg_version(),
    }


def rss_mb() -> float:
    """This process's resident memory (VmRSS) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- databases -------------------------------------------------------------------------------


def pg_problem() -> str | None:
    """None when PostgreSQL answers at SIGNALBOT_BENCH_PG_URL, else a one-line reason."""
    try:
        engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:200]


def schema_url(schema: str) -> str:
    """PG_URL with its search_path set to `schema`."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def database(kind: str, name: str) -> Iterator[str]:
    """A fresh empty database URL: a SQLite file, or a PostgreSQL schema dropped afterwards."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    problem = pg_problem()
    if problem:
        raise Skip(f"PostgreSQL not reachable at {PG_URL} ({problem})")
    schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def keep_folder() -> str | None:
    """SIGNALBOT_BENCH_KEEP=<folder>: keep the big history databases between runs (a SQLite
    file in the folder, a `bench_keep_*` schema on PostgreSQL) and reuse them; building a
    million signals takes minutes. Remove them by hand (`DROP SCHEMA bench_keep_... CASCADE`)."""
    return os.environ.get("SIGNALBOT_BENCH_KEEP") or None


def kept_database(kind: str, folder: str, name: str) -> str:
    """The URL of a database kept between runs (created empty when new)."""
    if kind == "sqlite":
        Path(folder).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(folder).resolve() / f'bench-{name}.db'}"
    problem = pg_problem()
    if problem:
        raise Skip(f"PostgreSQL not reachable at {PG_URL} ({problem})")
    schema = f"bench_keep_{name}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    finally:
        admin.dispose()
    return schema_url(schema)


def is_pg(url_or_engine: str | Engine) -> bool:
    """True for a PostgreSQL URL or engine."""
    url = url_or_engine if isinstance(url_or_engine, str) else str(url_or_engine.url)
    return url.startswith("postgresql")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- timing ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of `values`; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median, NaN when empty."""
    return statistics.median(values) if values else float("nan")


@contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t: ...` then `t[0]` is the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for tables."""
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f}"


# -- the report ------------------------------------------------------------------------------


@dataclass
class Report:
    """One benchmark's section of docs/benchmarks.md."""

    name: str
    title: str
    target: str
    command: str
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    verdict: str = ""
    notes: list[str] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (caption, preformatted)
    skipped: list[str] = field(default_factory=list)
    ok: bool = True

    def markdown(self, facts: dict[str, str]) -> str:
        """The section, between its markers."""
        lines = [f"<!-- bench:{self.name}:start -->", f"## {self.title}", ""]
        lines += [f"**Target:** {self.target}", ""]
        lines += [f"**Command:** `{self.command}`  ", f"**Date:** {_now()}  "]
        lines += ["**Machine:** " + ", ".join(f"{k} {v}" for k, v in facts.items()), ""]
        if self.rows:
            lines += [table(self.headers, self.rows), ""]
        for reason in self.skipped:
            lines += [f"*Skipped:* {reason}", ""]
        lines += [f"**Verdict:** {self.verdict}", ""]
        for note in self.notes:
            lines += [note, ""]
        for caption, body in self.blocks:
            lines += [caption, "", "```", body.rstrip(), "```", ""]
        lines.append(f"<!-- bench:{self.name}:end -->")
        return "\n".join(lines)


def per_database(dbs: Sequence[str], report: Report, run_one, label) -> None:
    """Run `run_one(db) -> bool` on each database; skips noted, verdict `label(ok)` per db."""
    verdicts = []
    for db in dbs:
        try:
            ok = run_one(db)
        except Skip as exc:
            report.skipped.append(f"{db}: {exc}")
            continue
        report.ok &= ok
        verdicts.append(f"{db}: {label(ok)}")
    report.verdict = "; ".join(verdicts) or "not run"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(out)


HEADER = """# Benchmarks

Proof of speed and scale (issue 6). Every section below is written by its benchmark:
`make bench` (= `python -m bench`) runs them all, `python -m bench <name>` one of them,
`--quick` a smoke-sized run. PostgreSQL parts use `SIGNALBOT_BENCH_PG_URL`
(default `postgresql+psycopg://postgres@127.0.0.1:5432/test`), each in its own schema,
dropped afterwards; they are skipped, with the reason shown, when no server answers.
"""


def write_section(path: Path, report: Report, facts: dict[str, str]) -> None:
    """Replace (or add, in the benchmarks' order) this report's section of `path`.

    Text before the first section and after the last one (hand-written findings) is kept.
    """
    current = path.read_text() if path.exists() else HEADER
    found = list(_SECTION.finditer(current))
    preamble = (current[:found[0].start()] if found else current).rstrip() + "\n"
    epilogue = current[found[-1].end():].strip() if found else ""
    sections = {m.group(1): m.group(0) for m in found}
    sections[report.name] = report.markdown(facts)
    known = [n for n in ORDER if n in sections] + [n for n in sections if n not in ORDER]
    body = preamble + "\n" + "\n\n".join(sections[n] for n in known) + "\n"
    if epilogue:
        body += "\n" + epilogue + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)


_SECTION = re.compile(r"<!-- bench:(\w+):start -->.*?<!-- bench:\1:end -->", re.S)
