"""`signalbot digest` and `signalbot export`: the weekly digest on demand, every signal as CSV.

`bot.cli` calls `register` to add both subcommands.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from blocks.digest import digest_text
from bot.progress import progress
from bot.services import Services
from service.digest import build_digest, post_digest
from service.export import write_csv


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _digest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="print the digest as text instead of posting it")
    parser.add_argument("--week", type=_day, metavar="YYYY-MM-DD",
                        help="the week (Monday to Sunday) holding this date; default: last week")
    parser.add_argument("--again", action="store_true",
                        help="post it even if that week's digest was posted already")


def digest_command(args: argparse.Namespace, services: Services) -> int:
    """Print the digest (`--dry-run`) or queue its post to the digest channel."""
    if args.dry_run:
        print(digest_text(build_digest(services, args.week)), end="")
        return 0
    channel = services.config.digest_channel
    if not channel:
        print("signalbot: no digest channel is configured (set digest.channel in the config "
              "file); use --dry-run to see the digest", file=sys.stderr)
        return 2
    key = post_digest(services, args.week, again=args.again)
    if key is None:
        print(f"That week's digest was already posted to {channel}; add --again to post it "
              "once more.")
        return 0
    print(f"Digest queued for {channel} ({key}); the running worker posts it.")
    return 0


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", type=_day, required=True, metavar="YYYY-MM-DD",
                        help="signals logged on or after this day (in the configured timezone)")
    parser.add_argument("--until", type=_day, metavar="YYYY-MM-DD",
                        help="... and on or before this day (default: up to now)")
    parser.add_argument("--format", choices=["csv"], default="csv")
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")


def export_command(args: argparse.Namespace, services: Services) -> int:
    """Write every signal logged in the range, one CSV row each, streamed from the database."""
    if args.until and args.until < args.since:
        print("signalbot: --until is before --since", file=sys.stderr)
        return 2
    if not args.output:
        count = _export(services, args, sys.stdout)
    else:
        try:
            fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)  # the file holds ARR and buyer names: its owner's only
        except OSError as exc:
            print(f"signalbot: {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        with open(fd, "w", newline="", encoding="utf-8") as out:
            count = _export(services, args, out)
    print(f"{count} signals exported{f' to {args.output}' if args.output else ''}.",
          file=sys.stderr)
    return 0


def _export(services: Services, args: argparse.Namespace, out) -> int:
    with services.unit_of_work() as session, \
            progress("export", unit="signals", kept="the rows written so far are kept") as tracker:
        return write_csv(session, services.config, out, args.since, args.until, tracker)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `signalbot digest` and `signalbot export`."""
    digest = subparsers.add_parser("digest", help="the weekly digest: post it now, or print it")
    _digest_arguments(digest)
    digest.set_defaults(handler=digest_command)
    export = subparsers.add_parser("export", help="every signal with its timestamps, as CSV")
    _export_arguments(export)
    export.set_defaults(handler=export_command)
