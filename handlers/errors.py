"""The last word when a listener fails: log it, tell the person, never show a traceback."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from slack_bolt import App, BoltResponse

from blocks import limits

log = logging.getLogger("signalbot.errors")
SORRY = (
    "Something went wrong on our side and nothing was saved (reference {ref}). "
    "Please try again in a minute; if it keeps happening, tell your signalbot admin."
)


def register(app: App) -> None:
    """Install the global error handler."""
    app.error(on_error)


def on_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Log a failed listener with a reference, and answer the person without a traceback."""
    ref = uuid.uuid4().hex[:8]
    log.error("listener failed (ref %s): %s", ref, error, exc_info=error)
    text = SORRY.format(ref=ref)
    if body.get("command"):
        return _json({"response_type": "ephemeral", "text": text})
    if body.get("type") == "view_submission":
        block = _first_input(body.get("view") or {})
        if block:
            errors = {block: text[: limits.FIELD_ERROR]}
            return _json({"response_action": "errors", "errors": errors})
    return BoltResponse(status=200, body="")


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
