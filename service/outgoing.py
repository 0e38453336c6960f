"""The messages a change causes, as outbox items (rendered when they are delivered)."""

from __future__ import annotations

from storage.models import Signal
from storage.outbox import Outgoing


def card(
    signal: Signal, audience: str, user_id: str, headline: str, key_suffix: str = ""
) -> Outgoing:
    """Post the signal's card to `user_id`; later changes update it in place."""
    return Outgoing(
        key=f"card:{signal.id}:{audience}:{user_id}:{signal.token}{key_suffix}",
        kind="slack.post",
        target=user_id,
        payload={"render": "card", "audience": audience, "headline": headline},
        signal_id=signal.id,
    )


def refresh(signal: Signal, cause: str = "") -> Outgoing:
    """Update every posted card of the signal to its current state.

    Keyed by the signal's version, so one refresh per change; `cause` names a change that
    does not move the version (the sweep's escalations: `:esc:<clock>:<level>`).
    """
    return Outgoing(
        key=f"refresh:{signal.id}:{signal.version}{cause}",
        kind="slack.refresh",
        target=None,
        payload={},
        signal_id=signal.id,
    )


def notice(key: str, user_id: str, text: str, signal: Signal | None = None) -> Outgoing:
    """A short DM: plain text written now (already escaped mrkdwn)."""
    return Outgoing(
        key=key,
        kind="slack.post",
        target=user_id,
        payload={"text": text},
        signal_id=signal.id if signal else None,
    )


def ephemeral(key: str, channel: str, user_id: str, text: str) -> Outgoing:
    """An answer only `user_id` sees, in `channel` (e.g. the DM a button was pressed in)."""
    return Outgoing(
        key=key, kind="slack.ephemeral", target=user_id, payload={"channel": channel, "text": text}
    )


def home(user_id: str) -> Outgoing:
    """Re-publish the person's App Home.

    One pending row per person: further changes before it is claimed collapse into it
    (the view is rendered at send time). The deliverer renames the key when it claims the
    row, so a change after that queues a fresh one.
    """
    return Outgoing(key=f"{HOME_PENDING}{user_id}", kind="slack.home", target=user_id)


HOME_PENDING = "home:pending:"
