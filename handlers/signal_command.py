"""`/signal`: open the capture modal, or answer help / list / digest / admin."""

from __future__ import annotations

import html
import logging
import re
import time
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import replies
from blocks.modal import Prefill, signal_modal
from handlers.away import away_command, back_command
from handlers.digest import send_digest_preview
from protocol.catalogue import URGENCIES
from protocol.groups import admin_sources
from service.accounts import registry_has_accounts
from service.away import away_lines
from service.groups import group_status, memberships, recent_changes
from service.roster import NotAdmin, roster_gaps, set_manager
from service.runtime import Runtime
from service.views import signal_view
from service.visibility import may_see_account, may_see_roster
from storage.queries import (
    account_for_form,
    count_open_signals_for,
    managers,
    open_signals_for,
)

MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
log = logging.getLogger(__name__)
# Slack's trigger_id lives 3 s. A lazy listener starting later than this after the command
# (a loaded process) skips the database look-up and opens the modal with what was typed.
PREFILL_BUDGET = 1.0
RETRY = ("Slack gave up waiting for the form to open (it must open within 3 seconds of "
         "`/signal`), so nothing was started. Please run `/signal` again.")


def register(app: App) -> None:
    """`/signal` acks with its answer; the modal and the digest preview follow, lazily."""
    app.command("/signal")(ack=signal_command, lazy=[open_capture_modal, send_digest_preview])


def signal_command(ack: Ack, command: dict[str, Any], context, services: Runtime) -> None:
    """Answer `help`, `list`, `admin …`, `digest`, `away …` and `back`; anything else asks for
    the capture modal."""
    text = html.unescape(command.get("text") or "").strip()
    word = text.split(" ", 1)[0].lower()
    actor = command["user_id"]
    if word == "help":
        return ack(replies.help_reply(services.config.sla))
    if word == "list":
        return ack(_list(services, actor))
    if word == "admin":
        return ack(_admin(services, actor, command.get("text") or ""))
    if word == "digest":
        context["digest_preview_for"] = actor  # computed after the ack: send_digest_preview
        return ack()
    if word in ("away", "back"):  # committed first; the worker is woken after the ack
        ack((away_command if word == "away" else back_command)(services, actor, text))
        return services.wake()
    context["modal_for"] = text  # the form is built after the ack, in open_capture_modal
    context["asked_at"] = time.monotonic()
    ack()


def open_capture_modal(client: WebClient, command: dict[str, Any], context, services: Runtime,
                       respond: Respond | None = None) -> None:
    """Lazy, after the ack: the capture modal, pre-filled from `/signal <account> <urgency>`.

    The trigger expires 3 s after the command: when this starts late (a loaded process), the
    modal opens without the database look-up; if Slack still refuses the expired trigger,
    the person is told to run `/signal` again instead of seeing nothing.
    """
    if "modal_for" not in context:
        return
    asked = context.get("asked_at")
    late = asked is not None and time.monotonic() - asked > PREFILL_BUDGET
    prefill = _prefill(services, context["modal_for"], command["user_id"], look_up=not late)
    view = signal_modal(services.config.rubric, services.config.sla, prefill)
    try:
        client.views_open(trigger_id=command["trigger_id"], view=view)
    except SlackApiError as exc:
        if exc.response.get("error") != "expired_trigger_id" or respond is None:
            raise
        log.warning("/signal: the modal could not open in time (expired_trigger_id); "
                    "the person was asked to run it again")
        respond(**replies.ephemeral(RETRY))


def _prefill(services: Runtime, text: str, actor: str, look_up: bool = True) -> Prefill:
    """What the modal starts with; `look_up` False: only what was typed (no database)."""
    words = text.split()
    urgency = None
    if words and words[-1].lower() in URGENCIES:
        urgency = words.pop().lower()
    account_name = " ".join(words) or None
    ae_id = crm_id = None
    picker = False
    if look_up:
        with services.unit_of_work() as session:
            picker = registry_has_accounts(session)  # cached per process once true
            account, suggested = account_for_form(session, account_name or "")
            if account is not None and may_see_account(services.config, account, actor):
                account_name, crm_id, ae_id = account.name, account.crm_id, suggested
    return Prefill(account=account_name, urgency=urgency, ae_id=ae_id, crm_id=crm_id,
                   account_picker=picker, metadata={"source": "slash"})


def _list(services: Runtime, actor: str) -> dict[str, Any]:
    with services.unit_of_work() as session:
        signals = open_signals_for(session, actor, limit=20)
        views = [signal_view(s) for s in signals]
        return replies.list_reply(views, count_open_signals_for(session, actor))


def _admin(services: Runtime, actor: str, raw: str) -> dict[str, Any]:
    words = html.unescape(raw).split()
    users = MENTION.findall(raw)
    if len(words) >= 2 and words[1].lower() == "show":
        if not may_see_roster(services.config, actor):
            return replies.ephemeral("Only the signalbot admins named in the config can see the "
                                     "roster. Ask one of them, or see the README.")
        config = services.config
        with services.unit_of_work() as session:
            return replies.roster_reply(
                managers(session, config.managers),
                admin_sources(config, memberships(session)),
                roster_gaps(session, config),
                config.teams,
                away_lines(session, config, services.now()),
                config.policies,
                group_status(session, config),
                recent_changes(session),
            )
    if len(words) >= 2 and words[1].lower() == "manager" and len(users) in (1, 2):
        return _set_manager(services, actor, users[0], users[1] if len(users) == 2 else None)
    return replies.ephemeral(
        "Usage: `/signal admin show`, `/signal admin manager @ae @manager` "
        "(or `/signal admin manager @ae` to remove their manager)."
    )


def _set_manager(services: Runtime, actor: str, user: str, manager: str | None) -> dict:
    try:
        with services.unit_of_work() as session:
            previous = set_manager(session, services.config, actor, user, manager, services.now())
    except NotAdmin:
        return replies.ephemeral(
            "Only the signalbot admins named in the config can change the roster."
        )
    except ValueError as exc:
        return replies.ephemeral(str(exc))
    was = f" (was <@{previous}>)" if previous else ""
    now = f"<@{manager}>" if manager else "nobody (escalations go to the admins)"
    return replies.ephemeral(f"<@{user}> now reports to {now}{was}.")
