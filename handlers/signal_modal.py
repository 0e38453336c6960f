"""The capture modal: its submission, and the message shortcut that opens it."""

from __future__ import annotations

import html
import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from blocks.modal import SIGNAL_MODAL, Prefill, signal_modal
from handlers.forms import Form, draft_from_form
from protocol.record import LIMITS, validate
from service.accounts import registry_has_accounts
from service.capture import log_signal
from service.runtime import Runtime
from storage.models import Signal

log = logging.getLogger(__name__)
SHORTCUT = "log_signal_from_message"
BLOCK_OF_FIELD = {"category": "signal_type", "kind": "signal_type"}


ATTEMPTS = 3


def _save(services: Runtime, draft, actor: str, now, key: str) -> None:
    """Log the signal, committed before the ack; a lost race is retried, never swallowed.

    A unique-key conflict means either the same view was submitted twice at once (the
    other request saved it: done) or another submission raced us on a new account or
    person (try again). After three tries the error reaches the global handler, which
    answers on the modal instead of acking a signal that was not stored.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with services.unit_of_work() as session:
                log_signal(session, services.config, draft, actor, now, submission_key=key)
            return
        except IntegrityError:
            with services.unit_of_work() as session:
                if session.scalar(select(Signal.id).where(Signal.submission_key == key)):
                    return
            if attempt == ATTEMPTS:
                raise


def register(app: App) -> None:
    """Listen for the modal's submission and the message shortcut."""
    app.view(SIGNAL_MODAL)(submit_signal)
    app.shortcut(SHORTCUT)(ack=ack_shortcut, lazy=[open_from_message])


def submit_signal(ack: Ack, view: dict[str, Any], actor: str, services: Runtime) -> None:
    """Validate the capture modal; errors go next to their field, else log it, commit, ack."""
    draft, errors = draft_from_form(Form(view), services.config.rubric)
    now = services.now()
    if draft is not None:
        today = now.astimezone(services.config.timezone).date()
        errors = {BLOCK_OF_FIELD.get(f, f): m for f, m in validate(draft, today).items()}
    if errors:
        return ack(response_action="errors", errors=errors)
    _save(services, draft, actor, now, f"view:{view['id']}")
    ack()
    services.wake()


def ack_shortcut(ack: Ack) -> None:
    """The message shortcut: ack at once; the modal opens lazily."""
    ack()


def open_from_message(client: WebClient, body: dict[str, Any], services: Runtime) -> None:
    """Lazy, after the ack: open the capture modal at once (its trigger lives 3 s), with
    the message as the note; then add the message's link."""
    message = body.get("message") or {}
    note = html.unescape(message.get("text") or "")[: LIMITS["note"]]
    with services.unit_of_work() as session:  # one indexed read: the modal's account field
        picker = registry_has_accounts(session)
    prefill = Prefill(note=note, account_picker=picker, metadata={"source": "shortcut"})
    view = signal_modal(services.config.rubric, services.config.sla, prefill)
    opened = client.views_open(trigger_id=body["trigger_id"], view=view)["view"]
    _add_link(client, opened, view, body["channel"]["id"], message.get("ts"))


def _add_link(client: WebClient, opened: dict[str, Any], view: dict[str, Any],
              channel: str, ts: str | None) -> None:
    """Put the source message's permalink into the open modal's metadata (views.update keeps
    whatever the person typed meanwhile: the inputs keep their block and action ids)."""
    try:
        link = client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
        metadata = {**json.loads(view.get("private_metadata") or "{}"), "link": link}
        client.views_update(view_id=opened["id"], hash=opened.get("hash"),
                            view={**view, "private_metadata": json.dumps(metadata)})
    except Exception as exc:  # noqa: BLE001 - the link is a nicety; the signal stands without
        log.info("message shortcut: no link added to the modal (%s)", exc)
