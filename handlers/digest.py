"""`/signal digest`: an ephemeral preview of the weekly digest, for whoever asks.

`handlers.signal_command` answers the command with `digest_preview`.
"""

from __future__ import annotations

from typing import Any

from blocks import limits
from blocks.digest import digest_blocks
from blocks.kit import context
from blocks.text import mention
from service.digest import build_digest
from service.runtime import Runtime
from service.visibility import may_see_digest

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def digest_preview(services: Runtime, actor: str) -> dict[str, Any]:
    """Last week's digest as it is (or will be) posted, shown only to `actor` (when the
    `visibility.digest` setting lets them see it)."""
    with services.unit_of_work() as session:
        allowed = may_see_digest(session, services.config, actor)
    if not allowed:
        who = "managers and admins" if services.config.digest_visibility == "managers" \
            else "signalbot admins"
        return {"response_type": "ephemeral",
                "text": f"The digest preview is for {who} here (`visibility.digest`). "
                        f"{_where(services)}"}
    text, blocks = digest_blocks(build_digest(services))
    note = context(f"Preview for {mention(actor)}, only you can see it. {_where(services)}")
    shown = [note, *blocks][: limits.MESSAGE_BLOCKS]
    return {"response_type": "ephemeral", "text": text, "blocks": shown}


def _where(services: Runtime) -> str:
    config = services.config
    if not config.digest_channel:
        return "No digest channel is configured yet (`digest.channel` in the config file)."
    return (f"Posted to <#{config.digest_channel}> every {WEEKDAYS[config.digest_weekday]} at "
            f"{config.digest_time:%H:%M} ({config.timezone.key}).")
