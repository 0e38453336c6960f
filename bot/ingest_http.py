"""`POST /ingest/v1/events`: product events in, `202` with what was kept and what was not.

Authorised by `Authorization: Bearer $SIGNALBOT_INGEST_TOKEN` (no token set: the route does
not exist, 404). Every refused token is logged (the caller's address, never the token); after
`FAILURES` of them from one address within `WINDOW` seconds that address gets 429 until the
window has passed, without the token being looked at. Every good event is stored and every
bad one rejected by index; triggers are evaluated afterwards by the worker, never inside the
request.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from typing import Any

from bot.metrics import INGEST_EVENTS
from bot.services import Services
from service.ingest import ingest, parse_json

log = logging.getLogger(__name__)
PATH = ("POST", "/ingest/v1/events")
FAILURES, WINDOW = 10, 60.0
Answer = tuple[int, dict[str, Any]]


class Throttle:
    """Refused attempts per caller address over the last `WINDOW` seconds (one process)."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock, self.lock = clock, threading.Lock()
        self.failures: dict[str, deque[float]] = {}

    def wait(self, address: str) -> float:
        """Seconds `address` must wait before it is heard again (0: go ahead)."""
        with self.lock:
            recent = self._recent(address)
            return WINDOW - (self.clock() - recent[0]) if len(recent) >= FAILURES else 0.0

    def failed(self, address: str) -> int:
        """Count one refused attempt; how many there were in the window."""
        with self.lock:
            recent = self._recent(address)
            recent.append(self.clock())
            return len(recent)

    def _recent(self, address: str) -> deque[float]:
        if len(self.failures) > 10_000:  # a flood of addresses: start over rather than grow
            self.failures.clear()
        recent = self.failures.setdefault(address, deque())
        while recent and self.clock() - recent[0] > WINDOW:
            recent.popleft()
        return recent


def route(services: Services):
    """The WSGI route for `bot.web.wsgi_app`: environ in, (status, JSON body) out."""
    throttle = Throttle()

    def handle(environ: dict[str, Any]) -> Answer:
        token = services.settings.ingest_token
        if not token:
            return 404, {"ok": False, "error": "not found"}
        address = environ.get("REMOTE_ADDR") or "unknown"
        wait = throttle.wait(address)
        if wait > 0:
            return 429, _error(f"too many refused tokens from {address}: try again in "
                               f"{wait:.0f} s")
        if not _authorised(environ.get("HTTP_AUTHORIZATION") or "", token):
            count = throttle.failed(address)
            log.warning("ingest: refused a missing or wrong token from %s (%d in %.0f s)",
                        address, count, WINDOW)
            return 401, _error("missing or wrong token: send Authorization: Bearer <token>")
        rules = services.config.triggers
        body, problem = _read(environ, rules.max_body)
        if problem:
            return problem
        try:
            data = parse_json(body)
        except ValueError as exc:
            return 400, _error(f"the body is {exc}")
        events = data.get("events") if isinstance(data, dict) else None
        if not isinstance(events, list):
            return 400, _error('the body needs an "events" list')
        if len(events) > rules.max_events:
            return 413, _error(f"at most {rules.max_events} events a request, got {len(events)}")
        with services.unit_of_work() as session:
            result = ingest(session, rules, events, services.now())
        for outcome, amount in (("accepted", result.accepted), ("duplicate", result.duplicates),
                                ("rejected", len(result.rejected))):
            INGEST_EVENTS.labels(outcome).inc(amount)
        return 202, result.as_dict()

    return handle


def _authorised(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _read(environ: dict[str, Any], limit: int) -> tuple[bytes, Answer | None]:
    too_big = 413, _error(f"the body is larger than {limit:,} bytes: split the batch")
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b"", (400, _error("Content-Length is not a number"))
    if length > limit:
        return b"", too_big
    body = environ["wsgi.input"].read(length) if length > 0 else b""  # never read unbounded
    if not body.strip():
        return b"", (400, _error('the body is empty; send {"events": [...]}'))
    return body, None


def _error(text: str) -> dict[str, Any]:
    return {"ok": False, "error": text}
