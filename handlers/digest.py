"""`/signal digest`: an ephemeral preview of the weekly digest, for whoever asks."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from blocks.digest import MAX_BLOCKS, digest_blocks
from blocks.kit import context
from blocks.text import mention
from handlers.signal_command import SUBCOMMANDS
from service.digest import build_digest
from service.runtime import Runtime

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def register(app: App, services: Runtime) -> None:
    """Answer `/signal digest` with the preview (the command's own listener calls it)."""
    SUBCOMMANDS["digest_preview"] = digest_preview


def digest_preview(services: Runtime, actor: str) -> dict[str, Any]:
    """Last week's digest as it is (or will be) posted, shown only to `actor`."""
    text, blocks = digest_blocks(build_digest(services))
    note = context(f"Preview for {mention(actor)}, only you can see it. {_where(services)}")
    return {"response_type": "ephemeral", "text": text, "blocks": [note, *blocks][:MAX_BLOCKS]}


def _where(services: Runtime) -> str:
    config = services.config
    if not config.digest_channel:
        return "No digest channel is configured yet (`digest.channel` in the config file)."
    return (f"Posted to <#{config.digest_channel}> every {WEEKDAYS[config.digest_weekday]} at "
            f"{config.digest_time:%H:%M} ({config.timezone.key}).")
