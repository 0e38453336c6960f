"""`signalbot crm check | backfill --since DATE | retry`: set up and operate the CRM sync."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, time
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from bot.progress import is_terminal, print_json, print_table, progress
from bot.services import Services
from service.crm import http
from service.crm.records import backfill_items, retry_held
from storage.models import Person, Signal
from storage.outbox import enqueue

BACKFILL_BATCH = 500  # CRM writes queued per transaction


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signalbot crm check | backfill | retry`."""
    parser = subparsers.add_parser(
        "crm", help="the CRM sync: check the setup, backfill, re-send held writes")
    parser.set_defaults(handler=run)
    sub = parser.add_subparsers(dest="crm_action", required=True)
    check_parser = sub.add_parser(
        "check", help="verify token, pipeline, stages, custom properties, owners")
    check_parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    backfill = sub.add_parser("backfill", help="queue signals handed off before the sync began")
    backfill.add_argument("--since", required=True, type=date.fromisoformat, metavar="DATE",
                          help="YYYY-MM-DD: signals handed off on or after this day")
    sub.add_parser("retry", help="re-queue CRM writes and webhooks held by a permanent error")


def run(args: argparse.Namespace, services: Services) -> int:
    """Dispatch `signalbot crm <action>`."""
    actions = {"check": check, "backfill": backfill, "retry": retry}
    return actions[args.crm_action](services, since=getattr(args, "since", None),
                                    as_json=getattr(args, "json", False))


def check(services: Services, out: TextIO = sys.stdout, as_json: bool = False, **_: Any) -> int:
    """Print what the CRM and webhooks need; 0 when nothing is missing, 1 otherwise.

    `as_json`: one JSON object (`crm_report`); in a terminal the checks are a rich table.
    """
    report = crm_report(services)
    if as_json:
        print_json(report, out=out)
    elif is_terminal(out):
        print(report["target"] or "signalbot crm check", file=out)
        print_table("", ["", "check"], [(c["status"].upper(), c["text"])
                                        for c in report["checks"]], out=out)
        if report["definitions"]:
            print("\n" + report["definitions"], file=out)
    else:
        _print_plain(report, out)
    return 0 if report["ok"] else 1


def crm_report(services: Services) -> dict[str, Any]:
    """What `crm check` found, as plain data (the `--json` shape documented in the README):
    `provider`, `target`, `checks` [{status: ok|missing|fail|warn|note, text}], `definitions`,
    `ok` (a warning does not make it false)."""
    crm = services.config.crm
    report: dict[str, Any] = {"provider": crm.label if crm.enabled else None, "target": "",
                              "checks": [], "definitions": "", "ok": True}
    checks = report["checks"]
    if not crm.enabled:
        checks.append({"status": "note", "text": "crm.provider is none: nothing is written to a "
                                                 "CRM"})
    else:
        provider = services.connections.provider(crm, services.now)
        emails = _ae_emails(services)
        try:
            inspection = provider.inspect(emails or {})
        except (http.Transient, http.Permanent) as exc:
            checks.append({"status": "fail", "text": str(exc)})
            report["ok"] = False
            return report
        report["target"] = inspection.target
        if emails is None:
            checks.append({"status": "note", "text": "owners not checked: no database yet "
                                                     "(signalbot db upgrade)"})
        checks += [{"status": "ok" if ok else "missing" if "missing" in text else "fail",
                    "text": text} for ok, text in inspection.lines]
        report["ok"], report["definitions"] = inspection.ok, inspection.definitions
    checks += [{"status": "warn", "text": f"{url} is http://: tokens and signal data would cross "
                                          "the network unencrypted; use https://"}
               for url in _plain_http(services)]
    for hook in services.config.webhooks:
        has_secret = http.secret(hook.secret_env) is not None
        report["ok"] = report["ok"] and has_secret
        checks.append({"status": "ok" if has_secret else "fail",
                       "text": f"webhook {hook.url} [{', '.join(hook.events)}]: "
                               f"${hook.secret_env} {'is set' if has_secret else 'is not set'}"})
    return report


def _print_plain(report: dict[str, Any], out: TextIO) -> None:
    print("signalbot crm check", file=out)
    if report["target"]:
        print(report["target"], file=out)
    for item in report["checks"]:
        if item["text"].startswith("crm.provider is none"):
            print(f"  {item['text']}", file=out)
        else:
            status = item["status"]
            print(f"  {status.upper() if status in ('missing', 'fail', 'warn') else status:8} "
                  f"{item['text']}", file=out)
    if report["definitions"]:
        print("\n" + report["definitions"], file=out)


def _plain_http(services: Services) -> list[str]:
    """The configured CRM and webhook URLs that are not https://."""
    crm = services.config.crm
    urls = [crm.base_url] if crm.enabled and crm.base_url else []
    urls += [hook.url for hook in services.config.webhooks]
    return [url for url in urls if url.lower().startswith("http://")]


def _ae_emails(services: Services) -> dict[str, str] | None:
    """Slack id -> e-mail of everyone who owns a handed-off signal (None: no database yet)."""
    try:
        with services.unit_of_work() as session:
            rows = session.execute(select(Person.slack_id, Person.email).where(
                Person.email.is_not(None), Person.deactivated.is_(False),
                Person.slack_id.in_(select(Signal.ae_id).where(Signal.handed_off_at.is_not(None)))
            )).all()
    except DBAPIError:
        return None
    return {slack_id: email for slack_id, email in rows}


def backfill(services: Services, since: date, out: TextIO = sys.stdout, **_: Any) -> int:
    """Queue a CRM write for each signal handed off since `since` the CRM does not hold yet."""
    crm = services.config.crm
    if not crm.enabled:
        print("signalbot: crm.provider is none; configure `crm:` first (docs/crm.md)", file=out)
        return 2
    start = datetime.combine(since, time(0), tzinfo=services.config.timezone)
    with services.unit_of_work() as session:
        items = backfill_items(session, start, crm.provider)
    with progress("crm backfill", total=len(items), unit="signals",
                  kept="the batches queued so far stay queued; run it again for the rest") \
            as tracker:
        for first in range(0, len(items), BACKFILL_BATCH):
            batch = items[first:first + BACKFILL_BATCH]
            with services.unit_of_work() as session:  # keyed rows: a re-run adds no twins
                enqueue(session, batch, services.now())
            tracker.advance(len(batch))
    services.wake()
    print(f"queued {len(items)} signal(s) handed off since {since.isoformat()} for "
          f"{crm.label}; the worker sends them", file=out)
    return 0


def retry(services: Services, out: TextIO = sys.stdout, **_: Any) -> int:
    """Put held CRM writes and webhooks back in the queue (after fixing the token/property)."""
    with services.unit_of_work() as session:
        count = retry_held(session, services.now())
    services.wake()
    print(f"re-queued {count} held CRM write(s) and webhook(s)", file=out)
    return 0
