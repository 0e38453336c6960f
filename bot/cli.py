"""The `signalbot` command: run, worker, db, status."""

from __future__ import annotations

import argparse
import json
import logging
import signal as os_signal
import sys
import threading
from collections.abc import Callable

from bot.accounts_cli import register as register_accounts
from bot.app import TokenRejected
from bot.config import ConfigError, load_config
from bot.crm_cli import register as register_crm
from bot.logs import setup as setup_logging
from bot.services import Services
from bot.settings import Settings, SettingsError
from storage.db import schema_state, upgrade
from storage.outbox import backlog

log = logging.getLogger("signalbot")
COMMANDS: dict[str, Callable[[argparse.Namespace, Services], int]] = {}


class SchemaOutOfDate(Exception):
    """The database is behind the code's migrations."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        settings = Settings.from_env()
        config = load_config(args.config or settings.config_path)
        services = Services.build(settings, config)
        return COMMANDS[args.command](args, services)
    except (SettingsError, ConfigError, SchemaOutOfDate, TokenRejected) as exc:
        print(f"signalbot: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signalbot", description="Expansion hand-offs in Slack.")
    parser.add_argument("--config", help="YAML config file (default: $SIGNALBOT_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve Slack (Socket Mode or HTTP) and run the worker")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_const", const="http", dest="mode")
    mode.add_argument("--socket", action="store_const", const="socket", dest="mode")
    run.add_argument("--host", default="0.0.0.0")
    run.add_argument("--port", type=int, default=3000)
    run.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    run.add_argument("--no-worker", action="store_true",
                     help="web only: leave the sweep and deliveries to `signalbot worker`")
    worker = sub.add_parser("worker", help="run only the SLA sweep and deliveries")
    worker.add_argument("--once", action="store_true", help="one catch-up pass, then exit")
    worker.add_argument("--migrate", action="store_true")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "check"])
    sub.add_parser("status", help="delivery backlog and schema state, as JSON")
    for name, (help_text, configure) in EXTRA_PARSERS.items():
        configure(sub.add_parser(name, help=help_text))
    return parser


EXTRA_PARSERS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {}


def _ensure_schema(services: Services, migrate: bool) -> None:
    if migrate:
        upgrade(services.settings.database_url)
        return
    current, head = schema_state(services.engine)
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing'}, this version needs {head}. "
            "Run `signalbot db upgrade` (or start with `--migrate`)."
        )


def _run(args: argparse.Namespace, services: Services) -> int:
    from bot.app import create_app
    from bot.web import serve, wsgi_app
    from bot.worker import Worker

    mode = args.mode or services.settings.mode()
    services.settings.require_for(mode)
    _ensure_schema(services, args.migrate)
    app = create_app(services)
    worker = None if args.no_worker else Worker(services)
    if worker:
        worker.start()
    routes = {key: route(services) for key, route in EXTRA_ROUTES.items()}
    application = wsgi_app(services, app if mode == "http" else None, routes)
    server = serve(application, args.host, args.port)
    log.info("signalbot %s mode; HTTP on %s:%s (/healthz%s)", mode, args.host, args.port,
             ", /slack/events" if mode == "http" else "")
    _stop_on_signals(server)
    try:
        if mode == "socket":
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            handler = SocketModeHandler(app, services.settings.slack_app_token)
            handler.connect()
        server.serve_forever()
    finally:
        if worker:
            worker.stop()
    return 0


EXTRA_ROUTES: dict = {}  # later features add HTTP routes here: (method, path) -> factory


def _stop_on_signals(server) -> None:
    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (os_signal.SIGTERM, os_signal.SIGINT):
        os_signal.signal(sig, stop)


def _worker(args: argparse.Namespace, services: Services) -> int:
    from bot.worker import Worker

    services.settings.require_for("worker")
    _ensure_schema(services, args.migrate)
    worker = Worker(services)
    if args.once:
        worker.catch_up()
        return 0
    worker.start()
    stopped = threading.Event()
    for sig in (os_signal.SIGTERM, os_signal.SIGINT):
        os_signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    worker.stop()
    return 0


def _db(args: argparse.Namespace, services: Services) -> int:
    if args.action == "upgrade":
        upgrade(services.settings.database_url)
        print("database schema is up to date")
        return 0
    current, head = schema_state(services.engine)
    print(f"schema {current or 'empty'}; code expects {head}")
    return 0 if current == head else 1


def _status(args: argparse.Namespace, services: Services) -> int:
    current, head = schema_state(services.engine)
    with services.unit_of_work() as session:
        report = {"schema": current, "schema_head": head,
                  "outbox": backlog(session, services.now())}
    print(json.dumps(report, indent=2))
    return 0


COMMANDS.update({"run": _run, "worker": _worker, "db": _db, "status": _status})
register_crm(EXTRA_PARSERS, COMMANDS)  # signalbot crm check | backfill | retry
register_accounts(EXTRA_PARSERS, COMMANDS, EXTRA_ROUTES)  # accounts import, ingest, /ingest/v1
import bot.reports_cli  # noqa: E402, F401 - registers `digest` and `export` (after COMMANDS exists)

if __name__ == "__main__":
    # `python -m bot.cli` runs this file as __main__; registrations live in `bot.cli` proper.
    from bot.cli import main as registered_main

    sys.exit(registered_main())
