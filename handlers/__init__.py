"""Slack listeners: each module translates one kind of request into domain calls."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    card_actions,
    context,
    digest,
    errors,
    follow_ups,
    home,
    signal_command,
    signal_modal,
    suggestions,
)
from service.runtime import Runtime


def register(app: App, services: Runtime) -> None:
    """Attach every listener and the shared middleware to `app`."""
    context.register(app)
    errors.register(app)
    signal_command.register(app, services)
    signal_modal.register(app, services)
    card_actions.register(app, services)
    follow_ups.register(app, services)
    home.register(app, services)
    digest.register(app, services)
    suggestions.register(app, services)
