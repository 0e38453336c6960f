"""A local Slack Web API stand-in and signed-request builders for tests, demo and benchmarks."""

from standin.requests import (
    app_home_opened,
    block_actions,
    block_suggestion,
    event_callback,
    message_shortcut,
    sign,
    slash_command,
    view_submission,
)
from standin.server import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    Call,
    Rejection,
    SlackStandin,
    metadata_key,
    validate_blocks,
    validate_view,
)

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "Rejection",
    "SlackStandin",
    "app_home_opened",
    "block_actions",
    "block_suggestion",
    "event_callback",
    "message_shortcut",
    "metadata_key",
    "sign",
    "slash_command",
    "validate_blocks",
    "validate_view",
    "view_submission",
]
