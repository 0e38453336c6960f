"""Run a Slack stand-in in the foreground: `python -m standin --port 3999`."""

from __future__ import annotations

import argparse
import contextlib
import threading

from standin.server import SlackStandin


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m standin", description=__doc__)
    parser.add_argument("--port", type=int, default=3999, help="TCP port on 127.0.0.1")
    parser.add_argument("--user", action="append", default=[], metavar="ID[=NAME[=TZ]]",
                        help="register a user for users.info (repeatable)")
    parser.add_argument("--quiet", action="store_true", help="do not log each call")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="answer every Web API call after this long (e.g. 0.15, as Slack's "
                        "round trip); calls are answered side by side")
    parser.add_argument("--rate-limit", action="store_true",
                        help="limit as Slack does: chat.postMessage 1 a second per "
                        "conversation (bursts of 5), other methods by their tier")
    return parser.parse_args(argv)


def _add_users(standin: SlackStandin, specs: list[str]) -> None:
    for spec in specs:
        user_id, _, rest = spec.partition("=")
        name, _, tz = rest.partition("=")
        standin.add_user(user_id, name or None, tz=tz or "America/New_York")


def main(argv: list[str] | None = None) -> None:
    """Start the stand-in, print its base_url, serve until Ctrl-C."""
    args = _parse(argv)
    standin = SlackStandin(args.port, verbose=not args.quiet, latency=args.latency)
    if args.rate_limit:
        standin.rate_limit(per_channel_per_second=1, burst=5, tiers=True)
    _add_users(standin, args.user)
    with standin:
        print(standin.base_url, flush=True)
        print(f"# export SLACK_API_URL={standin.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
