"""App Home: refresh a person's Home tab when they open it."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from service import outgoing
from service.runtime import Runtime
from storage.outbox import enqueue


def register(app: App, services: Runtime) -> None:
    """On `app_home_opened`, queue a fresh Home view for that person."""

    def opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home":
            return
        user = event["user"]
        with services.unit_of_work() as session:
            enqueue(session, [outgoing.home(user)],
                    services.now())
        services.wake()

    app.event("app_home_opened")(opened)
