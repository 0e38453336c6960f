"""The HTTP face of the bot: Slack's requests, the probes, and room for other routes."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App

from bot.guard import guarded
from bot.ingest_http import PATH as INGEST
from bot.metrics import count_refused, instrument
from bot.metrics import respond as metrics_response
from bot.services import Services
from bot.slack_form import SlackHandler
from service.slack_pause import slack_paused
from storage import heartbeats
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


def readiness(services: Services) -> tuple[int, dict[str, Any]]:
    """200 when this process can serve: database reachable, schema current, a worker alive,
    Slack accepted the bot token in the last few minutes (storage/heartbeats.py) and Slack
    delivery is not paused over the token (service/slack_pause.py)."""
    try:
        ping(services.engine)
        current, head = schema_state(services.engine)
        with services.unit_of_work() as session:
            checks = heartbeats.readiness(heartbeats.latest(session), services.now())
        paused = slack_paused(services)
    except Exception as exc:  # noqa: BLE001 - report, never raise, from a probe
        return 503, {"ok": False, "database": f"unreachable: {type(exc).__name__}"}
    checks = {"database": "ok",
              "schema": "ok" if current == head else f"at {current}, code needs {head}",
              **checks}
    if paused:
        checks["slack_token"] = f"Slack delivery paused: {paused}"
    ok = all(value == "ok" for value in checks.values())
    return (200 if ok else 503), {"ok": ok, **checks}


def wsgi_app(
    services: Services, app: App | None, routes: dict[tuple[str, str], Route] | None = None
):
    """A WSGI application: POST /slack/events (when `app`), GET /healthz, /livez, /readyz,
    /metrics, extra `routes`.

    Every route sits behind `bot.guard.guarded`: bodies over their path's cap get 413 unread;
    a request whose body does not arrive in time (bot/server.py) is answered 408.
    """
    slack = instrument(SlackHandler(app)) if app else None
    extra = dict(routes or {})

    def application(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        if path == "/slack/events" and slack is not None:
            return slack(environ, start_response)
        if (method, path) == ("GET", "/metrics"):
            return metrics_response(services, environ, start_response)
        if (method, path) == ("GET", "/livez"):
            return _json(start_response, 200, {"ok": True})
        if (method, path) == ("GET", "/readyz"):
            return _json(start_response, *readiness(services))
        if (method, path) == ("GET", "/healthz"):
            return _json(start_response, *health(services))
        if (method, path) in extra:
            return _json(start_response, *extra[(method, path)](environ))
        return _json(start_response, 404, {"ok": False, "error": "not found"})

    capped = guarded(application, {INGEST[1]: services.config.triggers.max_body},
                     refused=count_refused)

    def answer_timeouts(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        try:
            return capped(environ, start_response)
        except TimeoutError:
            log.warning("%s %s: the request body did not arrive in time; answered 408",
                        environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
            return _json(start_response, 408, {"ok": False, "error": "request timeout"},
                         close=True)

    return answer_timeouts


def _json(start_response, status: int, body: dict[str, Any], close: bool = False) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {
        200: "OK",
        202: "Accepted",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        408: "Request Timeout",
        413: "Payload Too Large",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    start_response(f"{status} {reason.get(status, 'Status')}",
                   headers + ([("Connection", "close")] if close else []))
    return [data]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("%s - %s", self.address_string(), format % args)


def serve_in_thread(application, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """In-process test and demo server (wsgiref) in a daemon thread; production serves with
    gunicorn (bot/server.py). Returns the server (its port in `server_port`)."""
    server = make_server(
        host, port, application, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True, name="http").start()
    return server
