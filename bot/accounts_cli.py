"""`signalbot accounts import FILE.csv [--dry-run]` and `signalbot ingest FILE [--evaluate]`.

`bot.cli` calls `register` to add these subcommands (the HTTP route is `bot.ingest_http`).
"""

from __future__ import annotations

import argparse
import csv
import os
import stat
import sys
from collections.abc import Iterator
from typing import Any

from bot.progress import Tracker, progress
from bot.services import Services

CHUNK = 5000  # events per transaction (a request to the API carries up to 1,000)
SHOWN = 50  # rejected lines printed


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `accounts` and `ingest` subcommands."""
    accounts = subparsers.add_parser("accounts", help="the account registry: import a CSV")
    _configure_accounts(accounts)
    accounts.set_defaults(handler=_accounts)
    ingest = subparsers.add_parser(
        "ingest", help="load product events from a JSON-lines or CSV file")
    _configure_ingest(ingest)
    ingest.set_defaults(handler=_ingest)


def _configure_accounts(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="accounts_action", required=True)
    load = sub.add_parser("import", help="upsert accounts from a CSV, keyed by crm_id (else name)")
    load.add_argument("file", help="CSV with a header row (see docs/ingest.md)")
    load.add_argument("--dry-run", action="store_true", help="show what would change; save nothing")


def _configure_ingest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="events, one JSON object a line (.jsonl) or a CSV")
    parser.add_argument(
        "--evaluate",
        action="store_true",
        help="evaluate the triggers now instead of leaving it to the worker",
    )


def _schema_problem(services: Services) -> str | None:
    from storage.db import schema_state

    current, head = schema_state(services.engine)
    if current == head:
        return None
    return (
        f"the database schema is at {current or 'nothing'}, this version needs {head}. "
        "Run `signalbot db upgrade` first."
    )


def _accounts(args: argparse.Namespace, services: Services) -> int:
    from service.accounts import import_csv

    problem = _schema_problem(services)
    if problem:
        print(f"signalbot: {problem}", file=sys.stderr)
        return 2
    try:
        with open(args.file, newline="", encoding="utf-8-sig") as stream, \
                progress("accounts import", unit="rows",
                         kept="nothing was saved (the import is one transaction)") as tracker:
            session = services.factory()
            try:
                report = import_csv(session, stream, services.now(), tracker)
                if args.dry_run:
                    session.rollback()
                else:
                    session.commit()
            finally:
                session.close()
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as exc:
        print(f"signalbot: {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for line, text in report.changes:
            print(f"line {line}: would {text}")
    for line, reason in report.errors:
        print(f"line {line}: rejected: {reason}", file=sys.stderr)
    verb = "would be " if args.dry_run else ""
    print(
        f"{report.created} {verb}created, {report.updated} {verb}updated, "
        f"{report.unchanged} unchanged, {len(report.errors)} rejected"
        + (" (dry run: nothing saved)" if args.dry_run else "")
    )
    return 1 if report.errors else 0


def _ingest(args: argparse.Namespace, services: Services) -> int:
    from service.ingest import Known, ingest

    problem = _schema_problem(services)
    if problem:
        print(f"signalbot: {problem}", file=sys.stderr)
        return 2
    try:
        lines = _line_count(args.file)
        stream = open(args.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        print(f"signalbot: {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    stored = duplicates = 0
    rejected: list[tuple[int, str]] = []
    known = Known()  # accounts looked up once for the whole file
    with stream, progress("ingest", total=lines, unit="lines") as tracker:
        for chunk in _chunks(_events(stream, args.file, tracker, rejected)):
            with services.unit_of_work() as session:  # each chunk committed: Ctrl-C keeps it
                events = [e for _, e in chunk]
                result = ingest(session, services.config.triggers, events, services.now(), known)
            stored, duplicates = stored + result.accepted, duplicates + result.duplicates
            rejected += [(chunk[r["index"]][0], r["error"]) for r in result.rejected]
    for line, reason in sorted(rejected)[:SHOWN]:
        print(f"line {line}: rejected: {reason}", file=sys.stderr)
    if len(rejected) > SHOWN:
        print(f"... and {len(rejected) - SHOWN} more rejected lines", file=sys.stderr)
    print(f"{stored} events stored, {duplicates} seen before, {len(rejected)} rejected")
    if args.evaluate:
        from service.triggers import periodic

        print(f"evaluated {periodic(services)} accounts")
    return 1 if rejected else 0


def _line_count(path: str) -> int | None:
    """Lines in a regular file (the bar's total); None for a pipe, which can be read once."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        return None
    with open(path, "rb") as counting:
        return sum(1 for _ in counting)


def _events(stream, name: str, tracker: Tracker, rejected: list) -> Iterator[tuple[int, Any]]:
    """(line number, event) from JSON lines or CSV; unparsable lines go to `rejected`."""
    from service.ingest import parse_json

    lines = _lines(stream, tracker)
    first = next(lines, None)
    if first is None:
        return
    rest = _chain(first, lines)
    if first.lstrip().startswith("{") and not name.lower().endswith(".csv"):
        for number, line in enumerate(rest, 1):
            if not line.strip():
                continue
            try:
                yield number, parse_json(line)
            except ValueError as exc:
                rejected.append((number, str(exc)))
        return
    reader = csv.DictReader(rest)
    for row in reader:
        yield (
            reader.line_num,
            {
                k.strip(): v.strip()
                for k, v in row.items()
                if k and isinstance(v, str) and v.strip()
            },
        )


def _lines(stream, tracker: Tracker) -> Iterator[str]:
    for raw in stream:
        tracker.advance()
        yield raw.decode("utf-8-sig" if tracker.done == 1 else "utf-8", "replace")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _chunks(events: Iterator[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for item in events:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
