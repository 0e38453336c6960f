"""The production HTTP server: gunicorn with threaded workers, timeouts and a connection cap.

Every web worker builds its own Services (engine, pool) after the fork, so no connection is
shared between processes. A request's headers and body must arrive within
`request_timeout` seconds in all (a client sending a byte a second, or a Content-Length
that never arrives, holds a thread that long at most); each worker keeps at most
`max_connections` connections, further ones wait in the listen backlog. SIGTERM stops
accepting, lets requests in flight finish within `shutdown_grace`, and exits 0.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

from bot.heap import settle_heap
from bot.runtime_settings import Runtime

log = logging.getLogger(__name__)
WORKER_SILENT_LIMIT = 60  # seconds; gunicorn replaces a web worker that stops reporting


class RequestTimeout(NoMoreData, TimeoutError):
    """The request did not arrive in time (gunicorn closes the connection quietly)."""


class _DeadlineSocket:
    """A client socket whose reads fail once the request's deadline has passed."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline = float("inf")

    def recv(self, size: int, *flags: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RequestTimeout()
        self._sock.settimeout(remaining)
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            raise RequestTimeout() from None
        finally:
            self._sock.settimeout(None)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class GuardedWorker(ThreadWorker):
    """gunicorn's threaded worker, with one deadline for reading each whole request."""

    def handle(self, conn):
        if not isinstance(conn.sock, _DeadlineSocket):
            conn.sock = _DeadlineSocket(conn.sock)  # before the parser wraps it
        conn.sock.deadline = time.monotonic() + self.app.request_timeout
        return super().handle(conn)


class GunicornLogs(glogging.Logger):
    """gunicorn's own lines go through the root logger (one format, plain or JSON)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def _child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def options(runtime: Runtime, host: str, port: int) -> dict[str, Any]:
    """gunicorn's settings for `runtime`; the limits below are Slack-sized."""
    return {
        "bind": f"{host}:{port}",
        "workers": runtime.web_workers,
        "threads": runtime.threads,
        "worker_class": "bot.server.GuardedWorker",
        "worker_connections": runtime.max_connections,
        "keepalive": math.ceil(runtime.keepalive),  # gunicorn takes whole seconds
        "graceful_timeout": math.ceil(runtime.shutdown_grace),
        "timeout": WORKER_SILENT_LIMIT,
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "backlog": 512,
        "logger_class": "bot.server.GunicornLogs",
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "signalbot-web",
        "control_socket_disable": True,
        "child_exit": _child_exit,
        "preload_app": False,
    }


class Server(BaseApplication):
    """gunicorn running the WSGI app that `load_app` builds in each worker process."""

    def __init__(self, runtime: Runtime, host: str, port: int, load_app: Callable[[], Any]):
        self._options = options(runtime, host, port)
        self._load_app = load_app
        self.request_timeout = runtime.request_timeout
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        app = self._load_app()
        settle_heap()  # before the first request: a full collection otherwise stalls acks
        return app

    def run(self) -> None:
        """Serve until SIGTERM (or SIGINT); exits the process."""
        _Arbiter(self).run()


class _Arbiter(Arbiter):
    def handle_int(self) -> None:
        # Ctrl-C reaches every process of the group, `signalbot run` included, which sends
        # SIGTERM: stop as gracefully as for SIGTERM, not gunicorn's quick stop.
        self.handle_term()
