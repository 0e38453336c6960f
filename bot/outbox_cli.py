"""`signalbot outbox list | retry | drop`: what is queued or held, and putting it right."""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from datetime import UTC, date, datetime, time
from typing import TextIO

from bot.progress import print_json, print_table, progress
from bot.services import Services
from storage import outbox_admin

RETRY_BATCH = 200  # rows re-queued per transaction; Ctrl-C keeps the batches done


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signalbot outbox list | retry | drop`."""
    parser = subparsers.add_parser("outbox", help="list, re-send or drop queued Slack messages "
                                   "and CRM writes")
    parser.set_defaults(handler=run)
    sub = parser.add_subparsers(dest="outbox_action", required=True)
    listing = sub.add_parser("list", help="rows not yet sent (pending, sending, held)")
    listing.add_argument("--held", action="store_true", help="only held rows")
    listing.add_argument("--all", action="store_true", help="sent, skipped and dropped too")
    listing.add_argument("--kind", help="e.g. slack.post, slack.home, crm.upsert, webhook")
    listing.add_argument("--signal", type=int, metavar="N", help="rows of signal N")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="rows as JSON, for scripts")
    retry = sub.add_parser("retry", help="re-queue held rows (same keys: nothing goes twice)")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--held", action="store_true", help="every held row")
    retry.add_argument("--since", type=date.fromisoformat, metavar="DATE",
                       help="with --held: rows due on or after DATE (YYYY-MM-DD, UTC)")
    retry.add_argument("--reason", help="why (recorded with your name)")
    drop = sub.add_parser("drop", help="never send a pending or held row")
    drop.add_argument("id", type=int, metavar="ID")
    drop.add_argument("--reason", required=True, help="why (recorded with your name)")
    for command in (retry, drop):
        command.add_argument("--by", default=None,
                             help="who is acting (default: your login and host)")


def run(args: argparse.Namespace, services: Services, out: TextIO = sys.stdout) -> int:
    """Dispatch `signalbot outbox <action>`."""
    actions = {"list": _list, "retry": _retry, "drop": _drop}
    return actions[args.outbox_action](args, services, out)


def _actor(args: argparse.Namespace) -> str:
    return args.by or f"{getpass.getuser()}@{socket.gethostname()}"


def _list(args: argparse.Namespace, services: Services, out: TextIO) -> int:
    statuses = ("held",) if args.held else (None if args.all else outbox_admin.OPEN)
    with services.unit_of_work() as session:
        found = outbox_admin.rows(session, statuses=statuses, kind=args.kind,
                                  signal_id=args.signal, limit=args.limit)
        history = outbox_admin.actions(session, [row.id for row in found])
    if args.json:
        print_json([_as_dict(row, history.get(row.id, [])) for row in found], out=out)
        return 0
    if not found:
        print("no outbox rows match", file=out)
        return 0
    rows = [(row.id, row.status, row.kind, row.signal_id, row.target, row.attempts,
             f"{row.due_at:%Y-%m-%d %H:%M}", row.last_error,
             "; ".join(_action(a) for a in history.get(row.id, [])) or None) for row in found]
    print_table("signalbot outbox", ["id", "status", "kind", "signal", "target", "tries",
                                     "due (UTC)", "last error", "operator actions"], rows, out=out)
    return 0


def _as_dict(row, history: list) -> dict:
    return {"id": row.id, "status": row.status, "kind": row.kind, "signal": row.signal_id,
            "target": row.target, "attempts": row.attempts, "due_at": row.due_at.isoformat(),
            "last_error": row.last_error,
            "actions": [{"action": a.action, "actor": a.actor, "at": a.at.isoformat(),
                         "reason": a.reason} for a in history]}


def _action(action) -> str:
    return (f"{action.action} by {action.actor} at {action.at:%Y-%m-%d %H:%M} UTC"
            + (f": {action.reason}" if action.reason else ""))


def _retry(args: argparse.Namespace, services: Services, out: TextIO) -> int:
    if bool(args.ids) == bool(args.held):
        print("signalbot outbox retry: give row ids, or --held (not both)", file=sys.stderr)
        return 2
    since = datetime.combine(args.since, time(), UTC) if args.since else None
    with services.unit_of_work() as session:
        ids = args.ids or outbox_admin.held_since(session, since)
    done, refused = [], []
    with progress("outbox retry", total=len(ids), unit="rows",
                  kept="the rows re-queued so far stay re-queued") as tracker:
        for start in range(0, len(ids), RETRY_BATCH):  # one transaction a batch
            batch = ids[start:start + RETRY_BATCH]
            with services.unit_of_work() as session:
                requeued, left = outbox_admin.retry(session, batch, _actor(args), args.reason,
                                                    services.now())
            done += requeued
            refused += left
            services.wake()
            tracker.advance(len(batch))
    for row_id in done:
        print(f"#{row_id} re-queued", file=out)
    for item in refused:
        print(f"#{item.id} not re-queued: {item.reason}", file=out)
    print(f"{len(done)} re-queued, {len(refused)} left alone; the worker sends them within "
          "seconds", file=out)
    return 1 if refused else 0


def _drop(args: argparse.Namespace, services: Services, out: TextIO) -> int:
    with services.unit_of_work() as session:
        refused = outbox_admin.drop(session, args.id, _actor(args), args.reason, services.now())
    if refused:
        print(f"#{refused.id} not dropped: {refused.reason}", file=out)
        return 1
    print(f"#{args.id} dropped", file=out)
    return 0
