"""The HTTP face of the bot: Slack's requests, /healthz, and room for other routes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.guard import guarded
from bot.ingest_http import PATH as INGEST
from bot.services import Services
from storage.db import ping, schema_state
from storage.outbox import backlog

log = logging.getLogger(__name__)
Route = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def health(services: Services) -> tuple[int, dict[str, Any]]:
    """200 with the delivery backlog when the database answers and the schema is current."""
    try:
        ping(services.engine)
        current, head = schema_state(services.engine)
        with services.unit_of_work() as session:
            queue = backlog(session, services.now())
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a health check
        return 503, {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
    ok = current == head
    return (200 if ok else 503), {
        "ok": ok,
        "database": "ok",
        "schema": current,
        "schema_head": head,
        "outbox": queue,
    }


def wsgi_app(
    services: Services, app: App | None, routes: dict[tuple[str, str], Route] | None = None
):
    """A WSGI application: POST /slack/events (when `app`), GET /healthz, extra `routes`.

    Every route sits behind `bot.guard.guarded`: bodies over their path's cap get 413 unread.
    """
    slack = SlackRequestHandler(app) if app else None
    extra = dict(routes or {})

    def application(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/slack/events" and slack is not None:
            return slack(environ, start_response)
        if (method, path) == ("GET", "/healthz"):
            return _json(start_response, *health(services))
        if (method, path) in extra:
            return _json(start_response, *extra[(method, path)](environ))
        return _json(start_response, 404, {"ok": False, "error": "not found"})

    return guarded(application, {INGEST[1]: services.config.triggers.max_body})


def _json(start_response, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {
        200: "OK",
        202: "Accepted",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        413: "Payload Too Large",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }
    start_response(
        f"{status} {reason.get(status, 'Status')}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


def serve(application, host: str, port: int) -> WSGIServer:
    """A threaded WSGI server (not yet serving: call `serve_forever`)."""
    return make_server(
        host, port, application, server_class=_ThreadingServer, handler_class=_QuietHandler
    )


def serve_in_thread(application, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """Start serving in a daemon thread; returns the server (its port in `server_port`)."""
    server = serve(application, host, port)
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    return server
