"""`signalbot report quarter`: the quarterly RevOps review as text, CSV or the Slack post."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from typing import Any

from blocks.quarterly import review_blocks, review_text
from bot.progress import is_terminal, print_json, print_table
from bot.services import Services
from protocol.credit import Quarter, parse_quarter, quarter_of
from service.quarterly import build_review, post_review, write_review_csv


def _quarter(text: str) -> Quarter:
    try:
        return parse_quarter(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signalbot report quarter`."""
    report = subparsers.add_parser("report", help="reports for RevOps")
    sub = report.add_subparsers(dest="report", required=True)
    quarter = sub.add_parser("quarter", help="the quarterly review: CSM credit, AE SLAs")
    quarter.add_argument("--quarter", type=_quarter, metavar="2026Q4",
                         help="the quarter (default: the last one that ended)")
    quarter.add_argument("--format", choices=["text", "csv", "slack"], default="text",
                         help="text (default), csv (columns in README), or slack (the post's "
                              "JSON payload)")
    quarter.add_argument("--json", action="store_true",
                         help="one JSON object, for scripts: the CSV's rows as objects")
    quarter.add_argument("--post", action="store_true",
                         help="queue the post to credit.channel (once per quarter)")
    quarter.set_defaults(handler=quarter_command)


def quarter_command(args: argparse.Namespace, services: Services) -> int:
    """Print the review, or queue its post with --post."""
    config = services.config
    quarter = args.quarter or quarter_of(services.now().astimezone(config.timezone).date()
                                         ).previous
    if args.post:
        if not config.credit.channel:
            print("signalbot: no RevOps channel is configured (set credit.channel in the "
                  "config file)", file=sys.stderr)
            return 2
        key = post_review(services, quarter)
        print(f"Review of {quarter.label} queued for {config.credit.channel} ({key})." if key
              else f"The review of {quarter.label} was already posted.")
        return 0
    review = build_review(services, quarter)
    if args.json:
        print_json({"quarter": quarter.label, "rows": _rows(review)})
    elif args.format == "text" and is_terminal(sys.stdout):
        _tables(review)
    elif args.format == "csv":
        write_review_csv(review, sys.stdout)
    elif args.format == "slack":
        text, blocks = review_blocks(review)
        print(json.dumps({"text": text, "blocks": blocks}, indent=2))
    else:
        print(review_text(review), end="")
    return 0


def _rows(review: Any) -> list[dict[str, str]]:
    """The review's CSV rows as objects (one per CSM, role csm, and per AE, role ae)."""
    buffer = io.StringIO()
    write_review_csv(review, buffer)
    buffer.seek(0)
    return list(csv.DictReader(buffer))


def _tables(review: Any) -> None:
    """The review in a terminal: its summary, then a rich table for CSMs and one for AEs."""
    print(review_text(review).split("\n\n", 1)[0] + "\n")
    rows = _rows(review)
    csm_columns = ["slack_id", "name", "logged", "qualified", "handed_off", "won", "won_arr",
                   "signal_credit", "signal_quality"]
    ae_columns = ["slack_id", "name", "handoffs", "ack_attainment", "contact_attainment",
                  "escalations", "median_hours_to_contact", "flagged"]
    for role, title, columns in (("csm", "CSMs: signal credit and quality", csm_columns),
                                 ("ae", "AEs: SLA attainment", ae_columns)):
        mine = [r for r in rows if r["role"] == role]
        if mine:
            print_table(title, columns, [[r.get(c, "") for c in columns] for r in mine])
