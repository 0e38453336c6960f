"""The floor: the least any correct version of signalbot's capture must spend (issue 16).

A minimal Bolt bot that does what Slack sees signalbot do and nothing more: it verifies the
signature (Bolt), acks `/signal` and opens a modal from a lazy listener (the same view the
real bot opens, read from a file, so the submissions the load generator sends are the same
bytes), validates a submission (a buyer, an account and an AE), commits one row, acks, and
DMs the AE from a background thread. No outbox, no event log, no clocks, no CRM.

It runs on the same server as `signalbot run --http` (bot/server.py: gunicorn, the same
worker and thread counts, each web process with its own engine and pool after the fork),
against its own table `floor_signals` in the database it is given:

    python -m bench.floor --database URL --view VIEW.json --port P [--workers N]

The ack benchmark (bench/ack.py) starts it beside `signalbot run` and reports both.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal as os_signal
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.runtime_settings import Runtime
from bot.server import Server
from storage.db import make_engine

METADATA = MetaData()
SIGNALS = Table(
    "floor_signals", METADATA,
    Column("id", Integer, primary_key=True),
    Column("submission_key", String(100), unique=True, nullable=False),
    Column("account", String(200), nullable=False),
    Column("csm_id", String(32), nullable=False),
    Column("ae_id", String(32), nullable=False),
    Column("buyer_name", String(150), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
CALLBACK = "signal_modal"


def _answer(state: dict[str, Any], block: str) -> str | None:
    """The value of one input block of `view.state.values`, whatever its element type."""
    for element in (state.get(block) or {}).values():
        option = element.get("selected_option") or {}
        return (element.get("value") or element.get("selected_user")
                or option.get("value") or None)
    return None


def validate(view: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(the row's fields, errors by block id) of a submitted modal."""
    state = view["state"]["values"]
    fields = {name: (_answer(state, name) or "").strip()
              for name in ("account", "ae", "buyer_name")}
    errors = {name: "Required." for name, value in fields.items() if not value}
    return fields, errors


def create_app(engine: Engine, client: WebClient, modal: dict[str, Any]) -> App:
    """The floor's Bolt app: one command, one view submission."""
    identity = AuthorizeResult(enterprise_id=None, team_id="T0BENCH", bot_user_id="U0FLOOR",
                               bot_id="B0FLOOR", bot_token=client.token)
    app = App(client=client, authorize=lambda **_: identity, process_before_response=True,
              signing_secret=os.environ["SLACK_SIGNING_SECRET"],
              token_verification_enabled=False, raise_error_for_unhandled_request=False)
    insert = (pg_insert if engine.dialect.name == "postgresql" else sqlite_insert)(SIGNALS)
    insert = insert.on_conflict_do_nothing(index_elements=["submission_key"])
    notify = ThreadPoolExecutor(max_workers=2, thread_name_prefix="dm")

    def ack_command(ack) -> None:
        ack()

    def open_modal(client: WebClient, command: dict[str, Any]) -> None:
        client.views_open(trigger_id=command["trigger_id"], view=modal)

    def submit(ack, view: dict[str, Any], body: dict[str, Any]) -> None:
        fields, errors = validate(view)
        if errors:
            return ack(response_action="errors", errors=errors)
        with engine.begin() as conn:
            conn.execute(insert.values(
                submission_key=f"view:{view['id']}", csm_id=body["user"]["id"],
                account=fields["account"], ae_id=fields["ae"], buyer_name=fields["buyer_name"],
                created_at=datetime.now(UTC)))
        ack()
        notify.submit(_dm, client, fields)

    app.command("/signal")(ack=ack_command, lazy=[open_modal])
    app.view(CALLBACK)(submit)
    return app


def _dm(client: WebClient, fields: dict[str, str]) -> None:
    try:
        client.chat_postMessage(channel=fields["ae"],
                                text=f"New expansion signal on {fields['account']}")
    except Exception as exc:  # noqa: BLE001 - the floor's DM is best effort
        logging.getLogger(__name__).warning("DM failed: %s", exc)


def wsgi(engine: Engine, app: App):
    """Slack's requests into Bolt; GET /healthz answers 200."""
    slack = SlackRequestHandler(app)

    def application(environ: dict[str, Any], start_response):
        if environ.get("PATH_INFO") == "/slack/events":
            return slack(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"ok": true}']

    return application


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--view", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=None, help="default: the bot's (cores)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    modal = json.loads(args.view.read_text())
    modal = {k: v for k, v in modal.items() if k in ("type", "callback_id", "title", "submit",
                                                     "close", "blocks", "private_metadata")}
    engine = make_engine(args.database)
    METADATA.create_all(engine)
    engine.dispose()
    runtime = Runtime()
    overrides = {"web_workers": args.workers or runtime.web_workers,
                 "threads": args.threads or runtime.threads}
    runtime = Runtime(**{**runtime.__dict__, **overrides})

    def load():
        mine = make_engine(args.database, **_pool(args.database, runtime))
        client = WebClient(token="xoxb-floor", base_url=os.environ["SLACK_API_URL"].rstrip("/")
                           + "/")
        return wsgi(mine, create_app(mine, client, modal))

    os_signal.signal(os_signal.SIGINT, os_signal.SIG_DFL)
    Server(runtime, args.host, args.port, load).run()
    return 0


def _pool(url: str, runtime: Runtime) -> dict[str, int]:
    """The pool signalbot's web processes use (bot/services.py)."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_size": runtime.db_pool_size, "max_overflow": runtime.threads}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
