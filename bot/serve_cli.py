"""`signalbot run`, `web`, `socket`, `worker`, `db` and `status`: serving Slack, the worker,
the schema. `run` supervises the others (bot/supervisor.py); docs/deploy.md shows the layout.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal as os_signal
import sys
import threading

from bot.heap import settle_heap
from bot.progress import Tracker, print_json, print_table, progress
from bot.routes import routes
from bot.services import Services
from service.slack_pause import slack_paused
from storage.backup import BackupError, backup_sqlite
from storage.db import is_postgres, schema_state, upgrade
from storage.outbox import backlog

log = logging.getLogger("signalbot")
WORKER_NICE = 10  # the worker's niceness on PostgreSQL unless SIGNALBOT_WORKER_NICE says


class SchemaOutOfDate(Exception):
    """The database is behind the code's migrations."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `run`, `web`, `socket`, `worker`, `db` and `status`."""
    run = sub.add_parser("run", help="serve Slack (Socket Mode or HTTP) and run the worker")
    mode = run.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_const", const="http", dest="mode")
    mode.add_argument("--socket", action="store_const", const="socket", dest="mode")
    _server_arguments(run)
    run.add_argument("--migrate", action="store_true", help="apply migrations before starting")
    run.add_argument("--no-worker", action="store_true",
                     help="web only: leave the sweep and deliveries to `signalbot worker`")
    run.set_defaults(handler=_run)
    web = sub.add_parser("web", help="only the HTTP server (what `run` starts; for split hosts)")
    _server_arguments(web)
    web.add_argument("--no-slack", action="store_true",
                     help="no /slack/events (Socket Mode: the `socket` process talks to Slack)")
    web.set_defaults(handler=_web)
    sub.add_parser("socket", help="only the Socket Mode connection (what `run --socket` "
                   "starts)").set_defaults(handler=_socket)
    worker = sub.add_parser("worker", help="run only the SLA sweep and deliveries")
    worker.add_argument("--once", action="store_true", help="one catch-up pass, then exit")
    worker.add_argument("--migrate", action="store_true")
    worker.set_defaults(handler=_worker)
    db = sub.add_parser("db", help="database schema; online SQLite backup")
    db.add_argument("action", choices=["upgrade", "check", "backup"])
    db.add_argument("file", nargs="?", help="backup: the copy to write (SQLite only)")
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


def _server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=3000, help="0: any free port (logged)")
    parser.add_argument("--workers", type=int, help="web processes (default: $SIGNALBOT_WORKERS, "
                        "else the number of cores)")
    parser.add_argument("--threads", type=int, help="threads per web process (default: 8)")


def _run(args: argparse.Namespace, services: Services) -> int:
    """The supervisor: web server, one worker, and the Socket Mode connection if used."""
    from bot.app import create_app
    from bot.supervisor import Child, supervise

    mode = args.mode or services.settings.mode()
    services.settings.require_for(mode)
    _ensure_schema(services, args.migrate)
    create_app(services)  # a refused token stops here, once, with the README's advice
    services.engine.dispose()
    base = [sys.executable, "-m", "bot.cli", *_global_arguments(args)]
    web = [*base, "web", "--host", args.host, "--port", str(args.port)]
    for flag in ("workers", "threads"):
        if getattr(args, flag) is not None:
            web += [f"--{flag}", str(getattr(args, flag))]
    children = [Child("web", web + (["--no-slack"] if mode == "socket" else []), essential=True)]
    if mode == "socket":
        children.append(Child("socket", [*base, "socket"]))
    if not args.no_worker:
        children.append(Child("worker", [*base, "worker"]))
    log.info("signalbot %s mode: %s", mode, ", ".join(c.name for c in children))
    return supervise(children, services.settings.runtime.shutdown_grace)


def _global_arguments(args: argparse.Namespace) -> list[str]:
    return (["--config", args.config] if args.config else []) + (["-v"] if args.verbose else [])


def _web(args: argparse.Namespace, services: Services) -> int:
    """gunicorn serving the bot; each web worker builds its own Services after the fork."""
    from bot.app import create_app
    from bot.runtime_settings import with_overrides
    from bot.server import Server
    from bot.web import wsgi_app

    settings, config = services.settings, services.config
    settings.require_for("worker" if args.no_slack else "http")
    _ensure_schema(services, False)
    services.engine.dispose()
    runtime = with_overrides(settings.runtime,
                             {"web_workers": args.workers, "threads": args.threads})

    def load():
        mine = Services.build(settings, config)
        app = None if args.no_slack else create_app(mine)
        return wsgi_app(mine, app, routes(mine))

    Server(runtime, args.host, args.port, load).run()
    return 0


def _socket(args: argparse.Namespace, services: Services) -> int:
    """The one Socket Mode connection; stops on SIGTERM."""
    from bot.app import create_app, socket_mode_handler

    services.settings.require_for("socket")
    _ensure_schema(services, False)
    handler = socket_mode_handler(create_app(services), services.settings.slack_app_token)
    settle_heap()
    handler.connect()
    log.info("Socket Mode connected")
    _wait_for_stop()
    handler.close()
    return 0


def _wait_for_stop() -> None:
    stopped = threading.Event()
    for sig in (os_signal.SIGTERM, os_signal.SIGINT):
        os_signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()


def _worker(args: argparse.Namespace, services: Services) -> int:
    from bot.worker import Worker

    services.settings.require_for("worker")
    _ensure_schema(services, args.migrate)
    _yield_to_acks(worker_niceness(services))
    worker = Worker(services)
    if args.once:
        worker.catch_up()
        return 0
    settle_heap()
    worker.start()
    _wait_for_stop()
    worker.stop(services.settings.runtime.shutdown_grace)
    log.info("worker stopped")
    return 0


def worker_niceness(services: Services) -> int:
    """SIGNALBOT_WORKER_NICE, else 10 on PostgreSQL and 0 on SQLite (see Runtime)."""
    chosen = services.settings.runtime.worker_nice
    if chosen is not None:
        return chosen
    return WORKER_NICE if is_postgres(services.engine) else 0


def _yield_to_acks(niceness: int) -> None:
    """Lower this process's CPU priority by `niceness`."""
    if niceness:
        os.nice(niceness)
        log.info("worker niceness %d: the web processes' acks get the CPU first", niceness)


def _db(args: argparse.Namespace, services: Services) -> int:
    if args.action == "backup":
        return _backup(args, services)
    if args.action == "upgrade":
        upgrade(services.settings.database_url)
        print("database schema is up to date")
        return 0
    current, head = schema_state(services.engine)
    print(f"schema {current or 'empty'}; code expects {head}")
    return 0 if current == head else 1


def _backup(args: argparse.Namespace, services: Services) -> int:
    """`signalbot db backup FILE`: an online copy of the SQLite database (the bot may run)."""
    if not args.file:
        print("signalbot db backup: name the file to write, e.g. signalbot-backup.db",
              file=sys.stderr)
        return 2
    try:
        with progress("db backup", unit="pages", kept="no copy was written") as tracker:
            pages = backup_sqlite(services.engine, args.file, _reporter(tracker))
    except BackupError as exc:
        print(f"signalbot db backup: {exc}", file=sys.stderr)
        return 2
    print(f"backed up {pages} pages to {args.file}")
    return 0


def _reporter(tracker: Tracker):
    def report(copied: int, total: int) -> None:
        if tracker.total != total:
            tracker.set_total(total)
        tracker.advance(copied - tracker.done)
    return report


def _status(args: argparse.Namespace, services: Services) -> int:
    current, head = schema_state(services.engine)
    with services.unit_of_work() as session:
        report = {"schema": current, "schema_head": head,
                  "outbox": backlog(session, services.now())}
    report["slack_paused"] = slack_paused(services)  # why Slack delivery waits, or None
    if args.json:
        print_json(report)
        return 0
    outbox = report["outbox"]
    print_table("signalbot status", ["", ""], [
        ("schema", (current or "empty") + ("" if current == head else f" (code expects {head})")),
        ("oldest due, unsent", outbox["oldest_due_unsent"] or "none"),
        ("its age", f"{outbox['oldest_due_age_s']:,.1f}s"),
        ("due, not yet sent", outbox["due"]),
        ("held (not retried)", outbox["held"]),
        ("Slack delivery", f"paused: {report['slack_paused']}" if report["slack_paused"]
         else "running"),
    ])
    return 0
