"""Request context built once per request: who is acting and on which signal."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import App


def register(app: App) -> None:
    """Install the middleware that fills `context['actor']` and `context['subject_id']`."""
    app.use(_request_context)


def _request_context(context, body: dict[str, Any], next) -> None:
    context["actor"] = _actor(body)
    context["subject_id"] = _subject(body)
    next()


def _actor(body: dict[str, Any]) -> str | None:
    user = body.get("user")
    if isinstance(user, dict):
        return user.get("id")
    return body.get("user_id") or (body.get("event") or {}).get("user")


def _subject(body: dict[str, Any]) -> int | None:
    """The signal a request is about: a button's `value` or the view's private_metadata."""
    actions = body.get("actions") or []
    raw = actions[0].get("value") if actions else None
    if raw is None and body.get("view"):
        try:
            raw = json.loads(body["view"].get("private_metadata") or "{}").get("signal")
        except (ValueError, AttributeError):
            raw = None
    try:
        return int(raw) if raw is not None else None
    except (TypeError, ValueError):
        return None
