"""Ingest and trigger evaluation, measured: `python -m bench.ingest_bench [--quick]`.

1. `POST /ingest/v1/events` with 1,000 events a request, over HTTP (target: under 200 ms).
2. A nightly file: 10,000 accounts (`accounts import`) and 12 billing cycles each (120,000
   usage events, ordered by cycle as a warehouse export would be) loaded with the code of
   `signalbot ingest`, then every account evaluated (target: under 30 s on SQLite).
3. The next day: 1,000 new events on 100 accounts: only those 100 are evaluated.
4. The `/signal` account type-ahead over the 10,000 accounts (Slack allows 3 s).

Writes its figures into docs/benchmarks-ingest.md. Nothing here talks to Slack.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from bot.accounts_cli import _ingest
from bot.config import Config
from bot.ingest_http import PATH, route
from bot.services import Services
from bot.settings import Settings
from bot.web import serve_in_thread, wsgi_app
from service.accounts import import_csv, search
from service.ingest import ingest
from service.triggers import periodic
from storage.db import make_engine, upgrade
from storage.models import Base, OutboxMessage, Trigger

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks-ingest.md"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_ingest"  # its own schema: never the tables of anyone else
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
ENDS = [date(2025 + (m + 11) // 12, (m + 11) % 12 + 1, 1) - timedelta(days=1) for m in range(12)]


def services_for(url: str) -> Services:
    """A migrated schema and `Services` whose clock stands still at NOW."""
    upgrade(url)  # the migrations, as `signalbot db upgrade` runs them
    services = Services.build(Settings(database_url=url, ingest_token="bench"), Config())
    services.clock = lambda: NOW
    return services


def accounts_csv(n: int, rng: random.Random) -> str:
    """A registry of `n` accounts as `accounts import` reads it."""
    rows = [
        "crm_id,name,csm,ae,seats,limits,contract_start,renewal_date,health,"
        "feature_adoption,open_support"
    ]
    for i in range(n):
        renewal = NOW.date() + timedelta(days=rng.randint(10, 400))
        rows.append(
            f"crm-{i:05d},Account {i:05d},U0CSM{i % 20:04d},U0AE{i % 10:05d},"
            f"{rng.randint(10, 500)},api_calls=100000,2024-0{rng.randint(1, 9)}-01,"
            f"{renewal},{rng.randint(55, 100)},{rng.random():.2f},"
            f"{rng.choice(['none', 'none', 'P3', 'P4', 'P2'])}"
        )
    return "\n".join(rows) + "\n"


def nightly_events(n: int, rng: random.Random) -> list[str]:
    """Twelve cycles of api_calls per account, one JSON line each, ordered by cycle."""
    start = [rng.uniform(10_000, 60_000) for _ in range(n)]
    pace = [rng.uniform(-0.04, 0.09) for _ in range(n)]
    lines = []
    for cycle, end in enumerate(ENDS):
        for i in range(n):
            value = min(start[i] * (1 + pace[i]) ** cycle, 180_000)
            event = {"id": f"u-{i}-{cycle}", "account": f"crm-{i:05d}", "type": "usage",
                     "metric": "api_calls", "value": round(value),
                     "period_end": end.isoformat()}  # fmt: skip
            lines.append(json.dumps(event))
    return lines


def http_latency(services: Services, requests: int, accounts: int) -> list[float]:
    """Seconds per 1,000-event request, answered over HTTP."""
    server = serve_in_thread(wsgi_app(services, None, {PATH: route(services)}))
    url = f"http://127.0.0.1:{server.server_port}{PATH[1]}"
    timings = []
    with httpx.Client(headers={"Authorization": "Bearer bench"}, timeout=30) as client:
        for r in range(requests):
            events = [
                {
                    "id": f"h-{r}-{k}",
                    "account": f"crm-{(r * 1000 + k) % accounts:05d}",
                    "type": "active_users",
                    "value": 5 + k % 40,
                    "at": NOW.isoformat(),
                }
                for k in range(1000)
            ]
            started = time.perf_counter()
            answer = client.post(url, json={"events": events})
            timings.append(time.perf_counter() - started)
            ok = answer.status_code == 202 and answer.json()["accepted"] == 1000
            assert ok, answer.text[:300]
    server.shutdown()
    server.server_close()
    return timings


def run(url: str, accounts: int, requests: int) -> dict:
    """Every figure for one database."""
    rng = random.Random(7)
    services = services_for(url)
    figures: dict = {"accounts": accounts, "events": accounts * 12}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        with services.unit_of_work() as session:
            report = import_csv(session, io.StringIO(accounts_csv(accounts, rng)), NOW)
        figures["import_s"] = time.perf_counter() - started
        assert report.created == accounts and not report.errors
        path = Path(tmp) / "nightly.jsonl"
        path.write_text("\n".join(nightly_events(accounts, rng)) + "\n")
        with services.unit_of_work() as session:  # the import queued every account; start clean
            session.execute(Base.metadata.tables["trigger_queue"].delete())
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            code = _ingest(argparse.Namespace(file=str(path), evaluate=False), services)
        figures["load_s"] = time.perf_counter() - started
        assert code == 0
    started = time.perf_counter()
    figures["evaluated"] = periodic(services)
    figures["evaluate_s"] = time.perf_counter() - started
    with services.unit_of_work() as session:
        figures["triggers"] = session.scalar(select(func.count()).select_from(Trigger))
        figures["dms"] = session.scalar(select(func.count()).select_from(OutboxMessage))
    more = [
        {
            "id": f"n-{k}",
            "account": f"crm-{k % 100:05d}",
            "type": "gated_feature",
            "feature": "sso",
            "at": NOW.isoformat(),
        }
        for k in range(1000)
    ]
    with services.unit_of_work() as session:
        ingest(session, services.config.triggers, more, services.now())
    started = time.perf_counter()
    figures["next_day_evaluated"] = periodic(services)
    figures["next_day_s"] = time.perf_counter() - started
    searches = []
    for typed in ["account 0", "acc", "0999", "crm-04", "nothing like it"] * 10:
        started = time.perf_counter()
        with services.unit_of_work() as session:
            search(session, typed)
        searches.append(time.perf_counter() - started)
    figures["search_ms"] = sorted(searches)
    figures["http_s"] = sorted(http_latency(services, requests, accounts))
    services.engine.dispose()
    return figures


def _ms(values: list[float], q: float) -> str:
    return f"{values[min(len(values) - 1, int(q * len(values)))] * 1000:.0f} ms"


# fmt: off
ROWS = [  # (figure, target, how to show it from one database's figures)
    ("`POST /ingest/v1/events`, 1,000 events: median", "< 200 ms",
     lambda f: _ms(f["http_s"], 0.5)),
    ("… 95th percentile / slowest", "",
     lambda f: f"{_ms(f['http_s'], 0.95)} / {f['http_s'][-1] * 1000:.0f} ms"),
    ("`accounts import`, accounts", "",
     lambda f: f"{f['accounts']:,} in {f['import_s']:.1f} s"),
    ("nightly file loaded (`signalbot ingest`)", "",
     lambda f: f"{f['events']:,} events in {f['load_s']:.1f} s "
               f"({f['events'] / f['load_s']:,.0f}/s)"),
    ("every account evaluated", "",
     lambda f: f"{f['evaluated']:,} in {f['evaluate_s']:.1f} s"),
    ("**nightly: loaded + evaluated**", "**< 30 s**",
     lambda f: f"**{f['load_s'] + f['evaluate_s']:.1f} s**"),
    ("triggers recorded / DMs queued", "",
     lambda f: f"{f['triggers']:,} / {f['dms']:,}"),
    ("next day: 1,000 events on 100 accounts, evaluated", "only those",
     lambda f: f"{f['next_day_evaluated']} accounts in {f['next_day_s'] * 1000:.0f} ms"),
    ("account type-ahead over the registry: median / slowest", "< 3 s (Slack)",
     lambda f: f"{_ms(f['search_ms'], 0.5)} / {f['search_ms'][-1] * 1000:.0f} ms"),
]
# fmt: on
HOW = (
    "How: the HTTP figure is the wall time of `httpx.post` against the bot's WSGI server on "
    "this machine (requests of 1,000 `active_users` events on 1,000 different accounts, each "
    "with an `id`). The nightly file is JSON lines, ordered by cycle (every account's first "
    "cycle, then the second, ...), the worst order for the evaluation queue: each 5,000-event "
    "transaction of `signalbot ingest` touches 5,000 accounts. Evaluation takes 500 queued "
    "accounts at a time and drops every queue row of theirs, so each account is evaluated "
    "once. The synthetic registry fires many triggers (renewals in the window, usage near its "
    "limit, at-risk notes): the DMs are queued in the outbox, not sent, in these figures. "
    "PostgreSQL runs in its own schema on 127.0.0.1."
)


def markdown(results: dict[str, dict], command: str) -> str:
    """The report: one column per database."""
    lines = [
        "# Ingest and trigger benchmarks",
        "",
        f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC "
        f"({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, {platform.system()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end: other work on the machine slows every figure).",
        "",
        "| figure | target | " + " | ".join(results) + " |",
        "|---|---|" + "---|" * len(results),
    ]
    for label, target, show in ROWS:
        shown = " | ".join(show(f) for f in results.values())
        lines.append(f"| {label} | {target} | {shown} |")
    return "\n".join([*lines, "", HOW, ""])


def _on_postgres(accounts: int, requests: int) -> dict:
    admin = make_engine(PG_URL, connect_args={"connect_timeout": 3})
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
    try:
        return run(f"{PG_URL}?options=-csearch_path%3D{PG_SCHEMA}", accounts, requests)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run on SQLite, then on PostgreSQL when it answers; write the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 accounts, 5 requests")
    parser.add_argument("--out", type=Path, default=DOC)
    args = parser.parse_args(argv)
    accounts, requests = (1_000, 5) if args.quick else (10_000, 20)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = run(f"sqlite:///{tmp}/bench.db", accounts, requests)
    try:
        results["PostgreSQL"] = _on_postgres(accounts, requests)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional here
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
    command = "python -m bench.ingest_bench" + (" --quick" if args.quick else "")
    args.out.write_text(markdown(results, command))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
