"""App Home: refresh a person's Home tab when they open it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from service import outgoing
from service.runtime import Runtime
from storage.outbox import enqueue


def register(app: App) -> None:
    """On `app_home_opened`, queue a fresh Home view for that person."""
    app.event("app_home_opened")(home_opened)


def home_opened(event: dict[str, Any], services: Runtime) -> None:
    """Queue a fresh Home view for whoever opened the Home tab (events are acked by Bolt)."""
    if event.get("tab", "home") != "home":
        return
    with services.unit_of_work() as session:
        enqueue(session, [outgoing.home(event["user"])], services.now())
    services.wake()
