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
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

IDLE_KEPT = 16  # idle connections kept per origin: one per delivery thread (CONCURRENCY)


class IdlePool:
    """Idle HTTP(S) connections by origin, taken for one call and given back after it."""

    def __init__(self, timeout: float, ssl: Any = None, kept: int = IDLE_KEPT):
        self.timeout = timeout
        self.ssl = ssl
        self.kept = kept
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def take(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        """An idle connection to `scheme://netloc` still open, or a new one (not connected
        yet: it connects when the request is sent)."""
        with self._lock:
            idle = self._idle.get((scheme, netloc), [])
            while idle:
                conn = idle.pop()
                if _usable(conn):
                    return conn
                conn.close()
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self.ssl)
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def give_back(self, scheme: str, netloc: str, conn: http.client.HTTPConnection) -> None:
        """Keep `conn` for the next call, unless enough are kept already."""
        with self._lock:
            idle = self._idle.setdefault((scheme, netloc), [])
            if len(idle) < self.kept:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _usable(conn: http.client.HTTPConnection) -> bool:
    """Open and quiet: an idle connection the server closed (or wrote to) reads as ready."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class KeepAliveClient(WebClient):
    """A WebClient whose calls reuse connections (see the module's docstring). Through a
    proxy it falls back to slack_sdk's own way."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.connections = IdlePool(self.timeout, self.ssl)

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
