"""Suggested signals from product data: their buttons, the 'Not expansion' modal, and the
`/signal` modal's account type-ahead (options, and the AE filled in when one is picked)."""

from __future__ import annotations

import copy
import logging
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from blocks import limits
from blocks import suggestion as dm
from blocks.modal import ACTION, Prefill, account_option, signal_modal
from blocks.text import escape
from handlers.forms import Form
from handlers.interaction import answer, commit_then_ack, gate_modal, open_modal
from service.accounts import search
from service.runtime import Runtime
from service.trigger_actions import (
    TriggerError,
    actionable,
    dismiss,
    prefill,
    settle,
    snooze,
)
from service.visibility import account_owner_filter, may_see_account
from storage.outbox import Outgoing, enqueue
from storage.queries import account_for_form, name_key

log = logging.getLogger(__name__)
VIEW_KEYS = (
    "type",
    "callback_id",
    "title",
    "submit",
    "close",
    "private_metadata",
    "blocks",
    "clear_on_close",
    "notify_on_close",
    "external_id",
)


def register(app: App) -> None:
    """The DM's three buttons, the dismiss modal, and the account type-ahead."""
    app.action(dm.LOG_SIGNAL)(ack=open_log_signal, lazy=[open_modal])
    app.action(dm.NOT_EXPANSION)(ack=open_not_expansion, lazy=[open_modal])
    app.action(dm.SNOOZE)(snooze_suggestion)
    app.view(dm.DISMISS_MODAL)(submit_dismissal)
    app.options(ACTION, matchers=[_on_account])(account_options)
    app.action({"block_id": "account", "action_id": ACTION})(
        ack=account_picked, lazy=[update_view]
    )


def _on_account(body: dict[str, Any]) -> bool:
    return body.get("block_id") == "account"


def open_log_signal(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """'Log it': the capture modal, filled in from the trigger (opened after the ack)."""
    gate_modal(services, ack, body, context, _log_view, (TriggerError,))


def open_not_expansion(ack: Ack, body: dict[str, Any], context, services: Runtime) -> None:
    """'Not expansion': the modal asking why."""
    gate_modal(services, ack, body, context, _dismiss_view, (TriggerError,))


def _log_view(services: Runtime, session, trigger_id: int, actor: str) -> dict[str, Any]:
    values = prefill(session, services.config, trigger_id, actor)
    config = services.config
    return signal_modal(config.rubric, config.sla, Prefill(**values, account_picker=True))


def _dismiss_view(services: Runtime, session, trigger_id: int, actor: str) -> dict[str, Any]:
    trigger = actionable(session, services.config, trigger_id, actor)
    return dm.dismiss_modal(trigger.id, trigger.account.name, trigger.kind)


def snooze_suggestion(ack: Ack, body: dict[str, Any], actor: str, subject_id: int | None,
                      services: Runtime) -> None:
    """'Snooze': the trigger comes back after the configured snooze if it still holds."""

    def work(session: Session, now: datetime) -> list[Outgoing]:
        try:
            trigger = snooze(session, services.config, subject_id, actor, now)
        except TriggerError as exc:
            return [answer(body, actor, str(exc))]
        text = (f"Snoozed: *{escape(trigger.account.name)}* comes back on "
                f"{trigger.snoozed_until.date().isoformat()} if it still holds.")
        return [answer(body, actor, text), settle(trigger, actor, now)]

    commit_then_ack(services, ack, work)


def submit_dismissal(ack: Ack, view: dict[str, Any], actor: str, services: Runtime) -> None:
    """The 'Not expansion' modal: dismiss the trigger with the reason given."""
    form = Form(view)
    reason = form.text("reason")
    if not reason:
        return ack(
            response_action="errors",
            errors={"reason": "Say why, so the team learns which triggers mislead."},
        )
    with services.unit_of_work() as session:
        now = services.now()
        try:
            trigger = dismiss(session, services.config, form.metadata.get("trigger"), actor,
                              reason, now)
        except TriggerError as exc:
            return ack(response_action="errors", errors={"reason": str(exc)[: limits.FIELD_ERROR]})
        enqueue(session, [settle(trigger, actor, now)], now)
    services.wake()
    ack()


def account_options(ack: Ack, body: dict[str, Any], actor: str, services: Runtime) -> None:
    """Accounts matching what was typed (those `actor` may see, `visibility.accounts`), and
    'New account: <typed>' unless it exists."""
    typed = " ".join((body.get("value") or "").split())[: limits.TYPED_QUERY]
    owner = account_owner_filter(services.config, actor)
    with services.unit_of_work() as session:
        found = search(session, typed, limit=20, owner=owner)
    choices = [account_option(name, crm_id) for name, crm_id in found]
    if typed and all(name_key(name) != name_key(typed) for name, _ in found):
        choices.append(account_option(typed, new=True))
    ack(options=choices)


def account_picked(ack: Ack, body: dict[str, Any], actor: str, context,
                   services: Runtime) -> None:
    """An account was picked: fill in its AE (unless one is chosen already), after the ack."""
    view = body.get("view") or {}
    selected = (body.get("actions") or [{}])[0].get("selected_option") or {}
    value = selected.get("value") or ""
    chosen = Form(view).user("ae")
    if value[:2] in ("c:", "n:") and view.get("id") and not chosen:
        with services.unit_of_work() as session:
            account, ae_id = account_for_form(session, value[2:])
            if account and not may_see_account(services.config, account, actor):
                ae_id = None
        if ae_id:
            context["updated_view"] = _with_ae(view, ae_id)
    ack()


def _with_ae(view: dict[str, Any], ae_id: str) -> dict[str, Any]:
    """The view with its AE filled in. Slack keeps an input's value across views.update
    while its block_id and action_id stay (api.slack.com/methods/views.update, "Preserving
    input entry"), ignoring a new initial_user; so the AE input gets a new block_id, and
    every other input keeps its id and what the person typed."""
    updated = {k: copy.deepcopy(view[k]) for k in VIEW_KEYS if view.get(k) not in (None, "")}
    for block in updated.get("blocks", []):
        if block.get("block_id") == "ae" or str(block.get("block_id")).startswith("ae."):
            block["block_id"] = f"ae.{ae_id}"
            block["element"]["initial_user"] = ae_id
    return updated


def update_view(client: WebClient, body: dict[str, Any], context) -> None:
    """Lazy, after the ack: put the picked account's AE into the open modal."""
    updated = context.get("updated_view")
    if not updated:
        return
    view = body["view"]
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:  # e.g. hash_conflict: the person changed the modal meanwhile
        log.info("account pick: views.update refused (%s)", exc.response.get("error"))
