"""The last word when a listener fails: log it, tell the person, never show a traceback."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse

from blocks import limits
from handlers.interaction import answer
from service.runtime import Runtime
from storage.outbox import enqueue

log = logging.getLogger("signalbot.errors")
SORRY = (
    "Something went wrong on our side and nothing was saved (reference {ref}). "
    "Please try again in a minute; if it keeps happening, tell your signalbot admin."
)


def register(app: App) -> None:
    """Install the global error handler."""
    app.error(on_error)


def on_error(error: Exception, body: dict[str, Any], context=None) -> BoltResponse:
    """Log a failed listener with a reference, and answer the person without a traceback."""
    ref = uuid.uuid4().hex[:8]
    log.error("listener failed (ref %s): %s", ref, error, exc_info=error)
    text = SORRY.format(ref=ref)
    services = context.get("services") if context is not None else None
    if body.get("type") == "block_actions" and services is not None:
        _tell_presser(services, body, text, ref)
    if body.get("command"):
        return _json({"response_type": "ephemeral", "text": text})
    if body.get("type") == "view_submission":
        block = _first_input(body.get("view") or {})
        if block:
            errors = {block: text[: limits.FIELD_ERROR]}
            return _json({"response_action": "errors", "errors": errors})
    return BoltResponse(status=200, body="")


def _tell_presser(services: Runtime, body: dict[str, Any], text: str, ref: str) -> None:
    """A button press has no answer of its own: say it failed where it was pressed."""
    actor = (body.get("user") or {}).get("id")
    if not actor:
        return
    try:
        with services.unit_of_work() as session:
            enqueue(session, [answer(body, actor, text)], services.now())
        services.wake()
    except Exception:  # noqa: BLE001 - the database may be what failed; the log has the ref
        log.warning("could not tell the user about failure %s", ref)


def _first_input(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and block.get("block_id"):
            return block["block_id"]
    return None


def _json(body: dict[str, Any]) -> BoltResponse:
    return BoltResponse(
        status=200,
        body=json.dumps(body),
        headers={"content-type": "application/json;charset=utf-8"},
    )
