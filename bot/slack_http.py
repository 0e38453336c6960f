"""Slack Web API calls over kept-alive connections.

slack_sdk's WebClient opens a new connection for every call (urllib): a DNS lookup, a TCP
connect and, against Slack, a TLS handshake each time, then a close. The worker makes a
few calls for every signal, so it reuses its connections instead, as a browser or
urllib3 does. Everything else (the request, the response, its errors, 429s) stays
slack_sdk's: only the one method that sends a built request and reads its answer is
replaced.

No call is ever sent twice here: a connection found closed by the server while idle is
replaced before the request is written; a call that fails once written raises, and the
outbox treats it as maybe sent (it reconciles before trying again).
"""

from __future__ import annotations

import http.client
import io
import select
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

IDLE_KEPT = 16  # idle connections kept per origin: one per delivery thread (CONCURRENCY)
# A connection idle longer is closed, not reused: a NAT or firewall on the way may have
# forgotten it without a word, and a call on it would wait out its timeout (then be
# reconciled as maybe sent).
IDLE_SECONDS = 30.0


class IdlePool:
    """Idle HTTP(S) connections by origin, taken for one call and given back after it."""

    def __init__(self, timeout: float, ssl: Any = None, kept: int = IDLE_KEPT,
                 clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.ssl = ssl
        self.kept = kept
        self.clock = clock
        # (connection, when it went idle), the most recent last
        self._idle: dict[tuple[str, str], list[tuple[http.client.HTTPConnection, float]]] = {}
        self._lock = threading.Lock()
        self.opened = self.reused = 0  # connections made, calls sent over a kept one

    def take(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        """An idle connection to `scheme://netloc` still open and idle for less than
        `IDLE_SECONDS`, or a new one (not connected yet: it connects when the request is
        sent)."""
        now = self.clock()
        with self._lock:
            idle = self._idle.get((scheme, netloc), [])
            while idle:
                conn, since = idle.pop()
                if now - since < IDLE_SECONDS and _usable(conn):
                    self.reused += 1
                    return conn
                conn.close()
            self.opened += 1
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def give_back(self, scheme: str, netloc: str, conn: http.client.HTTPConnection) -> None:
        """Keep `conn` for the next call, unless enough are kept already."""
        with self._lock:
            idle = self._idle.setdefault((scheme, netloc), [])
            if len(idle) < self.kept:
                idle.append((conn, self.clock()))
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn, _ in conns:
                conn.close()


def _usable(conn: http.client.HTTPConnection) -> bool:
    """Open and quiet: an idle connection the server closed (or wrote to) reads as ready."""
    sock = conn.sock
    if sock is None:
        return False
    ready = select.poll()  # not select(): a process may hold more than 1,024 descriptors
    try:
        ready.register(sock, select.POLLIN)
        return not ready.poll(0)
    except (OSError, ValueError):
        return False


class KeepAliveClient(WebClient):
    """A WebClient whose calls reuse connections (see the module's docstring). Through a
    proxy it falls back to slack_sdk's own way."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.connections = IdlePool(self.timeout, self.ssl)

    def __deepcopy__(self, memo: dict) -> KeepAliveClient:
        # Bolt deep-copies a request's context for its lazy listeners: they share the
        # process's client and its connections (a socket cannot be copied)
        return self

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https"):
            return super()._perform_urllib_http_request_internal(url, req)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn = self.connections.take(parts.scheme, parts.netloc)
        try:
            conn.request(req.get_method(), path, body=req.data, headers=dict(req.header_items()))
            resp = conn.getresponse()
            body = resp.read()
        except BaseException:
            conn.close()
            raise
        if resp.will_close:
            conn.close()
        else:
            self.connections.give_back(parts.scheme, parts.netloc, conn)
        return _answer(url, resp, body)


def _answer(url: str, resp: http.client.HTTPResponse, body: bytes) -> dict[str, Any]:
    """What slack_sdk's urllib call returns for `resp`, or the HTTPError urllib raises (for
    any status but 2xx), which slack_sdk turns into its answer (a 429's Retry-After)."""
    if not 200 <= resp.status < 300:
        raise HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(body))
    if resp.headers.get_content_type() == "application/gzip":
        return {"status": resp.status, "headers": resp.headers, "body": body}
    charset = resp.headers.get_content_charset() or "utf-8"
    return {"status": resp.status, "headers": resp.headers, "body": body.decode(charset)}
