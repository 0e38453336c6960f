"""`/signal digest`: an ephemeral preview of the weekly digest, for whoever asks.

`handlers.signal_command` acks the command at once; `send_digest_preview` then computes the
digest (a year of signals takes a while) and answers through the command's response_url.
A workspace that refuses the chart block answers that URL with HTTP 400 `invalid_blocks`:
the preview is sent again without its charts (their figures are in the blocks as words).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond

from blocks import limits
from blocks.charts import has_charts, without_charts
from blocks.digest import digest_blocks
from blocks.kit import context
from blocks.text import mention
from service.digest import build_digest
from service.runtime import Runtime
from service.visibility import may_see_digest

log = logging.getLogger("signalbot")

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
    text, blocks = digest_blocks(build_digest(services), quality_inline=True)
    note = context(f"Preview for {mention(actor)}, only you can see it. {_where(services)}")
    shown = [note, *blocks][: limits.MESSAGE_BLOCKS]
    return {"response_type": "ephemeral", "text": text, "blocks": shown}


def send_digest_preview(respond: Respond, context, services: Runtime) -> None:
    """Lazy, after `/signal digest` was acked: the preview, through the response_url."""
    actor = context.get("digest_preview_for")
    if actor is None:
        return
    answer = digest_preview(services, actor)
    sent = respond(**answer)
    if sent.status_code == 400 and "invalid_blocks" in str(sent.body) \
            and has_charts(answer.get("blocks")):
        log.warning("the workspace refused the digest preview's charts; sent without them")
        respond(**{**answer, "blocks": without_charts(answer["blocks"])})
    elif sent.status_code != 200:
        log.error("the digest preview was refused: %s %s", sent.status_code, sent.body)


def _where(services: Runtime) -> str:
    config = services.config
    if not config.digest_channel:
        return "No digest channel is configured yet (`digest.channel` in the config file)."
    return (f"Posted to <#{config.digest_channel}> every {WEEKDAYS[config.digest_weekday]} at "
            f"{config.digest_time:%H:%M} ({config.timezone.key}).")
