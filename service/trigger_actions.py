"""What a CSM does with a suggested signal: log it, snooze it, or say it is not expansion."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.suggestion import settled_note
from blocks.text import mention
from protocol.config import Config
from protocol.triggers import LIVE, TriggerState
from storage.db import is_postgres
from storage.models import Trigger
from storage.outbox import Outgoing

ACTIVE = LIVE
SOURCE = "trigger:"


class TriggerError(Exception):
    """The press cannot apply: the trigger is gone, already handled, or someone else's."""


def load(session: Session, trigger_id: int | None, lock: bool = False) -> Trigger:
    """The trigger (row-locked on PostgreSQL when `lock`); TriggerError if there is none."""
    stmt = select(Trigger).where(Trigger.id == (trigger_id or 0))
    if lock and is_postgres(session):
        stmt = stmt.with_for_update(of=Trigger)
    trigger = session.scalar(stmt)
    if trigger is None:
        raise TriggerError("That suggestion no longer exists.")
    return trigger


def check_actor(trigger: Trigger, actor: str, config: Config) -> None:
    """Its recipients, the account's CSM and the admins may act on a suggestion."""
    users = (trigger.recipients or {}).get("users") or []
    if actor in users or actor == trigger.account.csm_id or actor in config.admins:
        return
    owner = trigger.account.csm_id or (users[0] if users else None)
    raise TriggerError(f"This suggestion is for {mention(owner)}.")


def _check_active(trigger: Trigger) -> None:
    if trigger.state in ACTIVE:
        return
    if trigger.state == TriggerState.ACTED:
        raise TriggerError(f"This suggestion was already logged as signal #{trigger.signal_id}.")
    if trigger.state == TriggerState.DISMISSED:
        raise TriggerError("This suggestion was already marked as not expansion.")
    raise TriggerError("This suggestion no longer applies.")


def actionable(
    session: Session, config: Config, trigger_id: int | None, actor: str, lock: bool = False
) -> Trigger:
    """The trigger, if `actor` may still snooze or dismiss it; TriggerError otherwise."""
    trigger = load(session, trigger_id, lock=lock)
    check_actor(trigger, actor, config)
    _check_active(trigger)
    return trigger


def snooze(session: Session, config: Config, trigger_id: int, actor: str, now: datetime) -> Trigger:
    """Put it away for `triggers.snooze`; it comes back then if it still holds."""
    trigger = actionable(session, config, trigger_id, actor, lock=True)
    trigger.state = TriggerState.SNOOZED
    trigger.snoozed_until = now + config.triggers.snooze
    trigger.resolved_by, trigger.updated_at = actor, now
    return trigger


def dismiss(
    session: Session, config: Config, trigger_id: int, actor: str, reason: str, now: datetime
) -> Trigger:
    """Not expansion: kept with the reason; this episode does not come back."""
    trigger = actionable(session, config, trigger_id, actor, lock=True)
    trigger.state, trigger.reason = TriggerState.DISMISSED, reason[:500]
    trigger.snoozed_until = None
    trigger.resolved_by, trigger.updated_at = actor, now
    return trigger


def prefill(session: Session, config: Config, trigger_id: int, actor: str) -> dict[str, Any]:
    """What the `/signal` modal starts with for this trigger (arguments of `Prefill`)."""
    trigger = load(session, trigger_id)
    check_actor(trigger, actor, config)
    if trigger.state == TriggerState.ACTED:
        _check_active(trigger)
    account, evidence = trigger.account, trigger.evidence or {}
    category, kind = evidence.get("signal_type") or (None, None)
    return {
        "account": account.name,
        "crm_id": account.crm_id,
        "ae_id": account.ae_id,
        "category": category,
        "kind": kind,
        "detail": evidence.get("detail"),
        "urgency": trigger.urgency,
        "metadata": {"source": f"{SOURCE}{trigger.id}"},
    }


def settle(trigger: Trigger, actor: str, now: datetime) -> Outgoing:
    """Update the trigger's suggestion DMs in place: their buttons go, a line says what was
    done and by whom (delivered as `slack.settle`; DMs not yet posted are left as they are,
    and a press on them is answered as a late press)."""
    until = trigger.snoozed_until.date().isoformat() if trigger.snoozed_until else None
    note = settled_note(trigger.state, actor, until, trigger.signal_id)
    return Outgoing(key=f"settle:{trigger.id}:{trigger.state}:{int(now.timestamp())}",
                    kind="slack.settle", target=None,
                    payload={"of": f"trigger:{trigger.id}:", "trigger": trigger.id, "note": note})


def mark_acted(
    session: Session, source: str, signal_id: int, actor: str, now: datetime
) -> list[Outgoing]:
    """A signal logged from a trigger (`source` 'trigger:<id>'): the trigger was acted on;
    returns the update of its suggestion DMs."""
    if not source.startswith(SOURCE) or not source[len(SOURCE) :].isdigit():
        return []
    trigger = session.get(Trigger, int(source[len(SOURCE) :]))
    if trigger is None or trigger.state == TriggerState.ACTED:
        return []
    trigger.state, trigger.signal_id = TriggerState.ACTED, signal_id
    trigger.snoozed_until = None
    trigger.resolved_by, trigger.updated_at = actor, now
    return [settle(trigger, actor, now)]
