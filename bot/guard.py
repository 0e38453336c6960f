"""Checks in front of every HTTP route, before a byte of the body is read or parsed.

- **Body size.** Each path has a cap (`limits`, else `DEFAULT_MAX_BODY`): a declared
  `Content-Length` above it is refused with 413 without reading the body; a missing or
  malformed one reads as an empty body; the application can never read past the declared
  length or the cap (`wsgi.input` is wrapped), whatever the server does.
- **Slack's timestamp.** A request to `/slack/events` whose `X-Slack-Request-Timestamp` is
  not one whole number (absent, repeated, text) is refused with 401: Bolt would otherwise
  raise inside its signature check and its error handler answer 200.

Refusals are logged as one line with the path and the declared size, never the body, and
told to `refused(path, reason)` (the metrics count them; a path with no cap of its own is
named "other", so probes of random paths cannot grow the metric's labels).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"
SLACK_MAX_BODY = 512 * 1024  # Slack's own payloads are a few KB; a full modal, tens of KB
DEFAULT_MAX_BODY = 64 * 1024
WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]
Refused = Callable[[str, str], None]  # (path, reason: too_large | bad_timestamp)


def guarded(application: WSGIApp, limits: dict[str, int] | None = None,
            refused: Refused | None = None) -> WSGIApp:
    """`application` behind the body-size cap of each path and the Slack timestamp check."""
    caps = {SLACK_PATH: SLACK_MAX_BODY, **(limits or {})}
    tell = refused or (lambda _path, _reason: None)

    def guard(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        cap = caps.get(path, DEFAULT_MAX_BODY)
        length = _declared_length(environ)
        if length > cap:
            log.info("refused %s %s: body of %d bytes, the cap is %d",
                     environ.get("REQUEST_METHOD"), path, length, cap)
            tell(path if path in caps else "other", "too_large")
            return _refuse(start_response, 413, "Payload Too Large",
                           f"the body is larger than {cap:,} bytes")
        if path == SLACK_PATH and not _one_timestamp(environ):
            log.info("refused %s: X-Slack-Request-Timestamp missing or not one number", path)
            tell(path, "bad_timestamp")
            return _refuse(start_response, 401, "Unauthorized", "invalid request")
        environ["CONTENT_LENGTH"] = str(length)
        if "wsgi.input" in environ:
            environ["wsgi.input"] = _Bounded(environ["wsgi.input"], length)
        return application(environ, start_response)

    return guard


def _declared_length(environ: dict[str, Any]) -> int:
    raw = (environ.get("CONTENT_LENGTH") or "").strip()
    return int(raw) if raw.isdigit() else 0


def _one_timestamp(environ: dict[str, Any]) -> bool:
    value = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
    return value.isascii() and value.isdigit() and len(value) <= 12


class _Bounded:
    """A `wsgi.input` that yields at most `left` bytes, however it is asked."""

    def __init__(self, stream: Any, left: int) -> None:
        self._stream, self._left = stream, left

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        data = self._stream.read(size) if size else b""
        self._left -= len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left
        data = self._stream.readline(size) if size else b""
        self._left -= len(data)
        return data

    def __iter__(self):
        while line := self.readline():
            yield line


def _refuse(start_response, status: int, reason: str, text: str) -> list[bytes]:
    data = json.dumps({"ok": False, "error": text}).encode()
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))])
    return [data]
