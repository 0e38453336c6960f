"""`python -m bench [name ...] [--quick]`: run benchmarks, write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
import time
import traceback
from pathlib import Path

from bench.common import DOC, ORDER, SHARED, Options, machine, write_section

MODULES = {"ack": "bench.ack", "sweep": "bench.sweep", "apscheduler": "bench.jobs",
           "digest": "bench.digest", "delivery": "bench.delivery", "replicas": "bench.replicas",
           "soak": "bench.soak", "slackclient": "bench.slack_client"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run (default: all): {', '.join(ORDER)}")
    parser.add_argument("--quick", action="store_true", help="a small, fast run")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"],
                        help="databases to use (default: both; PostgreSQL skips if absent)")
    parser.add_argument("--out", type=Path, default=DOC, help=f"report file (default {DOC})")
    parser.add_argument("--slack-latency", type=float, default=0.15, metavar="SECONDS",
                        help="how long the Slack stand-in takes to answer each call "
                        "(delivery; default 0.15)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in MODULES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    shown = argv if argv is not None else sys.argv[1:]
    opts = Options(quick=args.quick, smoke=args.smoke,
                   dbs=tuple(args.db or ("sqlite", "postgres")), out=args.out,
                   command=shlex.join(["python", "-m", "bench", *shown]),
                   latency=args.slack_latency)
    facts = machine()
    failures = 0
    try:
        for name in args.names or ORDER:
            started = time.monotonic()
            print(f"bench {name} ...", flush=True)
            try:
                report = importlib.import_module(MODULES[name]).run(opts)
            except Exception:  # noqa: BLE001 - one broken benchmark must not hide the rest
                traceback.print_exc()
                failures += 1
                continue
            write_section(opts.out, report, facts)
            took = time.monotonic() - started
            print(f"bench {name}: {report.verdict} ({took:.0f} s)", flush=True)
    finally:
        SHARED.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
