"""Someone writes to the bot in its Messages tab: answer with a short help, once per message.

Slack sends `message.im` for every message in the bot's DMs, the bot's own posts and edits
included (Events API, message.im: `bot_id` on bot posts, `subtype` such as
`message_changed` on edits); only a person's new message gets an answer.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from blocks.replies import HELP
from service import outgoing
from service.runtime import Runtime
from storage.outbox import enqueue

DM_HELP = ("I post hand-offs, reminders and escalations here, but I don't read replies. "
           "Here is what I can do:\n" + HELP)


def is_persons_message(event: dict[str, Any]) -> bool:
    """A person's new message in a DM with the bot (not the bot's own, not an edit)."""
    return (event.get("channel_type") == "im" and not event.get("subtype")
            and not event.get("bot_id") and bool(event.get("user")))


def answer_dm(event: dict[str, Any], services: Runtime) -> None:
    """Queue the help DM (keyed by the message, so a redelivered event answers once)."""
    if not is_persons_message(event):
        return
    key = f"dm-help:{event['channel']}:{event['ts']}"
    with services.unit_of_work() as session:
        enqueue(session, [outgoing.notice(key, event["user"], DM_HELP)], services.now())
    services.wake()


def register(app: App) -> None:
    """Listen for `message.im`."""
    app.event({"type": "message", "channel_type": "im"})(answer_dm)
