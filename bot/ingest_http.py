"""`POST /ingest/v1/events`: product events in, `202` with what was kept and what was not.

Authorised by `Authorization: Bearer $SIGNALBOT_INGEST_TOKEN` (no token set: the route does
not exist, 404). Every good event is stored and every bad one rejected by index; triggers
are evaluated afterwards by the worker, never inside the request.
"""

from __future__ import annotations

import hmac
from typing import Any

from bot.services import Services
from service.ingest import ingest, parse_json

PATH = ("POST", "/ingest/v1/events")
Answer = tuple[int, dict[str, Any]]


def route(services: Services):
    """The WSGI route for `bot.web.wsgi_app`: environ in, (status, JSON body) out."""

    def handle(environ: dict[str, Any]) -> Answer:
        token = services.settings.ingest_token
        if not token:
            return 404, {"ok": False, "error": "not found"}
        if not _authorised(environ.get("HTTP_AUTHORIZATION") or "", token):
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
