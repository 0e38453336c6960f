"""Suggested signals from product data: their buttons, the 'Not expansion' modal, and the
`/signal` modal's account type-ahead (options, and the AE filled in when one is picked)."""

from __future__ import annotations

import copy
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import suggestion as dm
from blocks.modal import ACTION, Prefill, account_option, signal_modal
from blocks.text import escape
from handlers.forms import Form
from handlers.interaction import answer, modal_gate, open_modal
from service.accounts import search
from service.runtime import Runtime
from service.trigger_actions import TriggerError, actionable, dismiss, prefill, snooze
from storage.outbox import enqueue
from storage.queries import find_account, name_key

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


def register(app: App, services: Runtime) -> None:
    """The DM's three buttons, the dismiss modal, and the account type-ahead."""
    log_gate = modal_gate(services, _bound(services, _log_view), (TriggerError,), "log_signal")
    dismiss_gate = modal_gate(
        services, _bound(services, _dismiss_view), (TriggerError,), "not_expansion"
    )
    app.action(dm.LOG_SIGNAL)(ack=log_gate, lazy=[open_modal])
    app.action(dm.NOT_EXPANSION)(ack=dismiss_gate, lazy=[open_modal])
    app.action(dm.SNOOZE)(_snooze(services))
    app.view(dm.DISMISS_MODAL)(_dismissed(services))
    on_account = [lambda body: body.get("block_id") == "account"]
    app.options(ACTION, matchers=on_account)(_options(services))
    app.action({"block_id": "account", "action_id": ACTION})(
        ack=_picked(services), lazy=[_update_view]
    )


def _bound(services: Runtime, build):
    """A view builder for the gate: (session, trigger id, actor) -> view."""
    return lambda session, trigger_id, actor: build(services, session, trigger_id, actor)


def _log_view(services: Runtime, session, trigger_id: int, actor: str) -> dict[str, Any]:
    values = prefill(session, services.config, trigger_id, actor)
    return signal_modal(services.config.rubric, Prefill(**values, account_picker=True))


def _dismiss_view(services: Runtime, session, trigger_id: int, actor: str) -> dict[str, Any]:
    trigger = actionable(session, services.config, trigger_id, actor)
    return dm.dismiss_modal(trigger.id, trigger.account.name, trigger.kind)


def _snooze(services: Runtime):
    def press(ack: Ack, body: dict[str, Any], context) -> None:
        now, actor = services.now(), context["actor"]
        with services.unit_of_work() as session:
            try:
                trigger = snooze(session, services.config, context["subject_id"], actor, now)
                text = (
                    f"Snoozed: *{escape(trigger.account.name)}* comes back on "
                    f"{trigger.snoozed_until.date().isoformat()} if it still holds."
                )
            except TriggerError as exc:
                text = str(exc)
            enqueue(session, [answer(body, actor, text)], now)
        ack()
        services.wake()

    return press


def _dismissed(services: Runtime):
    def submit(ack: Ack, view: dict[str, Any], context) -> None:
        form = Form(view)
        reason = form.text("reason")
        if not reason:
            return ack(
                response_action="errors",
                errors={"reason": "Say why, so the team learns which triggers mislead."},
            )
        with services.unit_of_work() as session:
            try:
                dismiss(
                    session,
                    services.config,
                    form.metadata.get("trigger"),
                    context["actor"],
                    reason,
                    services.now(),
                )
            except TriggerError as exc:
                return ack(response_action="errors", errors={"reason": str(exc)[:150]})
        ack()

    return submit


def _options(services: Runtime):
    """Accounts matching what was typed, and 'New account: <typed>' unless it exists."""

    def options(ack: Ack, body: dict[str, Any]) -> None:
        typed = " ".join((body.get("value") or "").split())[:200]
        with services.unit_of_work() as session:
            found = search(session, typed, limit=20)
        choices = [account_option(name, crm_id) for name, crm_id in found]
        if typed and all(name_key(name) != name_key(typed) for name, _ in found):
            choices.append(account_option(typed, new=True))
        ack(options=choices)

    return options


def _picked(services: Runtime):
    """An account was picked: fill in its AE (unless one is chosen already), after the ack."""

    def picked(ack: Ack, body: dict[str, Any], context) -> None:
        view = body.get("view") or {}
        selected = (body.get("actions") or [{}])[0].get("selected_option") or {}
        value = selected.get("value") or ""
        chosen = view.get("state", {}).get("values", {}).get("ae", {}).get(ACTION) or {}
        if value[:2] in ("c:", "n:") and view.get("id") and not chosen.get("selected_user"):
            with services.unit_of_work() as session:
                account = find_account(session, value[2:])
                ae_id = account.ae_id if account else None
            if ae_id:
                context["updated_view"] = _with_ae(view, ae_id)
        ack()

    return picked


def _with_ae(view: dict[str, Any], ae_id: str) -> dict[str, Any]:
    updated = {k: copy.deepcopy(view[k]) for k in VIEW_KEYS if view.get(k) not in (None, "")}
    for block in updated.get("blocks", []):
        if block.get("block_id") == "ae":
            block["element"]["initial_user"] = ae_id
    return updated


def _update_view(client: WebClient, body: dict[str, Any], context) -> None:
    updated = context.get("updated_view")
    if not updated:
        return
    view = body["view"]
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:  # e.g. hash_conflict: the person changed the modal meanwhile
        log.info("account pick: views.update refused (%s)", exc.response.get("error"))
