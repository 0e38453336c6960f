"""CPU per valid submission on the ack path alone, signalbot beside the floor (issue 16).

`python -m bench.inprocess [sqlite|postgres] [N]`: one thread calls each bot's WSGI
application directly (no HTTP, no other process) with N signed modal submissions built
beforehand, and prints the thread's CPU time per submission. It is what the web processes
spend on each ack, apart from the server, the worker's delivery and the machine's load, so
it can be compared on a busy machine. The floor is bench/floor.py's app on the same database
(its DM thread is not counted; neither is signalbot's outbox delivery).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from bench import floor
from bench.common import PG_URL, schema_url
from bot.app import create_app
from bot.delivery import Deliverer, make_client
from bot.web import wsgi_app
from standin import SlackStandin
from standin import requests as slack_requests
from storage.db import make_engine
from tests.conftest import make_services
from tests.people import AE, CSM, SECRET, roster_config
from tests.support import VALID_SIGNAL, state_values


def _environ(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "QUERY_STRING": "",
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "SERVER_NAME": "bench", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "SERVER_PROTOCOL": "HTTP/1.1"}
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
    return environ


def cpu_per_submission(app: Callable, view: dict[str, Any], count: int, prefix: str,
                       warmed: Callable[[], Any] = lambda: None) -> float:
    """Thread CPU seconds per valid submission through `app` (after 60 not counted, then
    `warmed()`)."""
    def built(index: int) -> tuple[bytes, dict[str, str]]:
        values = {**VALID_SIGNAL, "account": f"Bench Account {index % 50}"}
        body, headers = slack_requests.view_submission(
            SECRET, user_id=CSM, view=view, view_id=f"V{prefix}{index:06d}",
            state_values=state_values(view, values))
        return body.encode(), headers

    def call(request: tuple[bytes, dict[str, str]]) -> None:
        status: list[str] = []
        answer = b"".join(app(_environ(*request), lambda line, *_: status.append(line)))
        if not status[0].startswith("200") or b'"errors"' in answer:
            raise RuntimeError(f"submission refused: {status} {answer[:200]!r}")

    for request in [built(i) for i in range(60)]:
        call(request)
    warmed()
    requests = [built(i) for i in range(100, 100 + count)]
    started = time.thread_time()
    for request in requests:
        call(request)
    return (time.thread_time() - started) / count


def main(argv: list[str]) -> None:
    db = argv[0] if argv else "sqlite"
    count = int(argv[1]) if len(argv) > 1 else 400
    os.environ["SLACK_SIGNING_SECRET"] = SECRET
    schema = f"bench_inproc_{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tempfile.mkdtemp(prefix='bench-inproc-')}/bench.db"
    admin = make_engine(PG_URL) if db == "postgres" else None
    if admin is not None:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = schema_url(schema)
    try:
        with SlackStandin() as standin:
            standin.add_user(CSM, name="Casey CSM", tz="America/New_York")
            standin.add_user(AE, name="Alex AE", tz="Europe/London")
            services = make_services(url, standin, roster_config())
            client = make_client("xoxb-bench", standin.base_url)
            signalbot = wsgi_app(services, create_app(services, client))
            view = _modal(signalbot, standin)
            engine = make_engine(url)
            floor.METADATA.create_all(engine)
            floor_app = floor.wsgi(engine, floor.create_app(engine, client, view))
            # as served: the worker has delivered the warm-up's DMs, so the AE's profile and
            # time zone are known (the ack bench's steady state; tests/handlers/test_ack_cost)
            deliverer = Deliverer(services.factory, services.config, client, clock=services.now)
            mine = cpu_per_submission(signalbot, view, count, "s", deliverer.drain)
            least = cpu_per_submission(floor_app, view, count, "f")
            print(f"{db}: CPU per valid submission, one thread, no HTTP: signalbot "
                  f"{mine * 1000:.2f} ms, floor {least * 1000:.2f} ms, "
                  f"ratio {mine / least:.1f}x ({count} submissions each)")
            services.engine.dispose()
            engine.dispose()
    finally:
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _modal(app: Callable, standin: SlackStandin) -> dict[str, Any]:
    """The signal modal as signalbot opens it (`/signal` into the app, then views.open)."""
    body, headers = slack_requests.slash_command(SECRET, user_id=CSM, text="")
    status: list[str] = []
    b"".join(app(_environ(body.encode(), headers), lambda line, *_: status.append(line)))
    deadline = time.monotonic() + 10
    while not standin.views_opened() and time.monotonic() < deadline:
        time.sleep(0.01)
    return standin.views_opened()[-1]


if __name__ == "__main__":
    main(sys.argv[1:])
