"""`signalbot run`, `worker`, `db` and `status`: serving Slack, the worker, the schema."""

from __future__ import annotations

import argparse
import logging
import signal as os_signal
import threading

from bot.progress import print_json, print_table
from bot.routes import routes
from bot.services import Services
from storage.db import schema_state, upgrade
from storage.outbox import backlog

log = logging.getLogger("signalbot")


class SchemaOutOfDate(Exception):
    """The database is behind the code's migrations."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `run`, `worker`, `db` and `status`."""
    run = sub.add_parser("run", help="serve Slack (Socket Mode or HTTP) and run the worker")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_const", const="http", dest="mode")
    mode.add_argument("--socket", action="store_const", const="socket", dest="mode")
    run.add_argument("--host", default="0.0.0.0")
    run.add_argument("--port", type=int, default=3000)
    run.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    run.add_argument("--no-worker", action="store_true",
                     help="web only: leave the sweep and deliveries to `signalbot worker`")
    run.set_defaults(handler=_run)
    worker = sub.add_parser("worker", help="run only the SLA sweep and deliveries")
    worker.add_argument("--once", action="store_true", help="one catch-up pass, then exit")
    worker.add_argument("--migrate", action="store_true")
    worker.set_defaults(handler=_worker)
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "check"])
    db.set_defaults(handler=_db)
    status = sub.add_parser("status", help="delivery backlog and schema state")
    status.add_argument("--json", action="store_true", help="one JSON object, for scripts")
    status.set_defaults(handler=_status)


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
    from bot.app import create_app, socket_mode_handler
    from bot.web import serve, wsgi_app
    from bot.worker import Worker

    mode = args.mode or services.settings.mode()
    services.settings.require_for(mode)
    _ensure_schema(services, args.migrate)
    app = create_app(services)
    worker = None if args.no_worker else Worker(services)
    if worker:
        worker.start()
    application = wsgi_app(services, app if mode == "http" else None, routes(services))
    server = serve(application, args.host, args.port)
    log.info("signalbot %s mode; HTTP on %s:%s (/healthz%s)", mode, args.host, args.port,
             ", /slack/events" if mode == "http" else "")
    _stop_on_signals(server)
    try:
        if mode == "socket":
            handler = socket_mode_handler(app, services.settings.slack_app_token)
            handler.connect()
        server.serve_forever()
    finally:
        if worker:
            worker.stop()
    return 0


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
    if args.json:
        print_json(report)
        return 0
    outbox = report["outbox"]
    print_table("signalbot status", ["", ""], [
        ("schema", (current or "empty") + ("" if current == head else f" (code expects {head})")),
        ("oldest due, unsent", outbox["oldest_due_unsent"] or "none"),
        ("its age", f"{outbox['oldest_due_age_s']:,.1f}s"),
        ("held (not retried)", outbox["held"]),
    ])
    return 0
