"""Slack listeners: each module translates one kind of request into domain calls."""

from __future__ import annotations

from slack_bolt import App

from handlers import (
    away,
    card_actions,
    context,
    direct_messages,
    errors,
    follow_ups,
    groups,
    home,
    signal_command,
    signal_modal,
    suggestions,
)
from service.runtime import Runtime


def register(app: App, services: Runtime) -> None:
    """Attach the shared middleware (it puts `services` into every request's context), the
    error handler and every listener to `app`."""
    context.register(app, services)
    errors.register(app)
    signal_command.register(app)
    signal_modal.register(app)
    card_actions.register(app)
    follow_ups.register(app)
    home.register(app)
    away.register(app)
    suggestions.register(app)
    direct_messages.register(app)
    groups.register(app)
