"""Request context built once per request: the process's services, who is acting, on what.

Listeners name what they need (`def acknowledge(ack, body, actor, subject_id, services)`) and
Bolt passes those context keys by name.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import App

from service.runtime import Runtime


def register(app: App, services: Runtime) -> None:
    """Install the middleware that fills `services`, `actor` and `subject_id` in the context."""

    def request_context(context, body: dict[str, Any], next) -> None:
        fill(context, body, services)
        next()

    app.use(request_context)


def fill(context, body: dict[str, Any], services: Runtime) -> None:
    """Put `services`, `actor` and `subject_id` into a request's `context`."""
    context["services"] = services
    context["actor"] = _actor(body)
    context["subject_id"] = _subject(body)


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
