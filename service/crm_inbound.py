"""A deal changed in the CRM, applied to its signal as if the AE had done it in Slack.

`apply_change` is one step of the poll's unit of work (`service/crm_poll.py`). What counts as
news is a followed field (stage, amount, owner) that differs both from what signalbot last
knew of the deal (`CrmRecord.crm_state`: its own last write, or the last poll) and from the
signal as it stands: so a write of ours read back is never news, and reading a change twice
changes nothing. When the signal changed in Slack after the deal changed in the CRM, the
later change (Slack's) wins: the CRM change is logged as superseded and the deal is written
again; otherwise the CRM change is applied with the deal owner as actor and `source: crm`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from protocol import stages
from protocol.config import Config
from protocol.routing import Ownership, owner_of
from service import outgoing
from service import signals as ops
from service.crm.base import DealChange, amount_text
from service.crm.records import CRM_KIND, record_for
from service.history import record_event
from storage.models import Person, Signal
from storage.outbox import Outgoing, enqueue
from storage.queries import signal_for_update


class Applied(StrEnum):
    """What became of one polled deal."""

    CHANGED = "changed"  # the signal took the CRM's change
    SAME = "same"  # nothing new (our own write read back, or already applied)
    SUPERSEDED = "superseded"  # Slack changed the signal later: Slack's state wins
    UNKNOWN = "unknown"  # the deal names no signal signalbot knows


def apply_change(session: Session, config: Config, change: DealChange,
                 now: datetime) -> Applied:
    """Apply one polled deal to its signal (see the module docstring)."""
    signal = _signal(session, change.signal_key)
    if signal is None:
        return Applied.UNKNOWN
    record = record_for(session, signal.id, config.crm.provider, now)
    seen = dict(record.crm_state or {})
    record.crm_state = change.state
    record.record_id = record.record_id or change.record_id
    news = _news(config, signal, seen, change)
    if not news:
        return Applied.SAME
    detail = _detail(config, change, news)
    if signal.updated_at and signal.updated_at > change.modified_at:
        record_event(session, signal, "crm_superseded", None, now, signal.stage, signal.stage,
                     detail)
        enqueue(session, [_rewrite(config, signal)], now)
        return Applied.SUPERSEDED
    actor = _actor(session, signal, change, seen)
    if "owner" in news:
        _owner(session, config, signal, actor, change, detail, now)
    if "amount" in news:
        _amount(session, signal, change.amount, detail, now)
    if "stage" in news:
        _stage(session, config, signal, news["stage"], actor, change, now)
    return Applied.CHANGED


def _signal(session: Session, key: str) -> Signal | None:
    if not key.isdigit() or len(key) > 18:
        return None
    signal = signal_for_update(session, int(key))
    if signal is None or signal.handed_off_at is None:
        return None  # never handed off: signalbot wrote no deal for it
    return signal


def _news(config: Config, signal: Signal, seen: dict[str, Any],
          change: DealChange) -> dict[str, Any]:
    """The followed fields the CRM changed that the signal does not show yet."""
    state, news = change.state, {}
    if state["stage"] != seen.get("stage"):
        meaning = config.crm.outcome_of(change.stage)
        closes = meaning in ("won", "lost") and signal.outcome != meaning
        contacts = meaning == "contacted" and signal.stage in (stages.HANDED_OFF,
                                                               stages.ACKNOWLEDGED)
        if closes or contacts:
            news["stage"] = meaning
    if state["amount"] != seen.get("amount") and change.amount is not None:
        current = signal.won_arr if signal.outcome == "won" else signal.est_arr
        if amount_text(current) != state["amount"]:
            news["amount"] = state["amount"]
    if state["owner"] != seen.get("owner") and change.owner is not None:
        news["owner"] = change.owner
    return news


def _detail(config: Config, change: DealChange, news: dict[str, Any]) -> dict[str, Any]:
    return {"source": "crm", "crm": config.crm.label, "record_id": change.record_id,
            "stage": change.stage, "amount": amount_text(change.amount),
            "owner": change.owner, "owner_email": change.owner_email,
            "modified_at": change.modified_at.isoformat(), "changed": sorted(news)}


def _actor(session: Session, signal: Signal, change: DealChange,
           seen: dict[str, Any]) -> str | None:
    """The deal owner's Slack id; the signal's owner when the CRM owner is the one we set."""
    if change.owner_email:
        found = session.scalar(select(Person.slack_id).where(
            func.lower(Person.email) == change.owner_email.lower(),
            Person.deactivated.is_(False)).limit(1))
        if found:
            return found
    if change.owner is None or change.owner == seen.get("owner"):
        return owner_of(signal.ownership, signal.csm_id, signal.ae_id)
    return None


def _owner(session: Session, config: Config, signal: Signal, actor: str | None,
           change: DealChange, detail: dict[str, Any], now: datetime) -> None:
    """A new deal owner: an open AE-led signal is reassigned to them (fresh clocks)."""
    current = owner_of(signal.ownership, signal.csm_id, signal.ae_id)
    if actor is None or actor == current:
        record_event(session, signal, "crm_owner", actor, now, signal.stage, signal.stage,
                     {**detail, "matched": actor is not None})
        return
    if signal.ownership != Ownership.CS_LED and signal.stage in stages.ALLOWED_FROM["reassign"]:
        ops.reassign(session, config, signal, actor, f"deal owner changed in {config.crm.label}",
                     actor, now, source=ops.CRM)
        return
    if signal.ownership != Ownership.CS_LED:
        signal.ae_id = actor  # closed: who held the deal at the end, for the record
    record_event(session, signal, "crm_owner", actor, now, signal.stage, signal.stage,
                 {**detail, "matched": True})
    enqueue(session, [outgoing.refresh(signal)], now)


def _amount(session: Session, signal: Signal, amount: Decimal | None, detail: dict[str, Any],
            now: datetime) -> None:
    field = "won_arr" if signal.outcome == "won" else "est_arr"
    before = getattr(signal, field)
    setattr(signal, field, amount)
    record_event(session, signal, "crm_amount", None, now, signal.stage, signal.stage,
                 {**detail, "field": field, "from": amount_text(before)})
    enqueue(session, [outgoing.refresh(signal)], now)


def _stage(session: Session, config: Config, signal: Signal, meaning: str, actor: str | None,
           change: DealChange, now: datetime) -> None:
    who = actor or signal.ae_id or signal.csm_id
    if meaning == "contacted":
        ops.log_contact(session, config, signal, who, now, source=ops.CRM)
        return
    won_arr = change.amount if meaning == "won" else None
    ops.record_outcome(session, config, signal, meaning, who, now, won_arr=won_arr,
                       reason=f"Closed {meaning} in {config.crm.label}", source=ops.CRM)


def _rewrite(config: Config, signal: Signal) -> Outgoing:
    """A forced write of the signal as it stands, so the CRM takes Slack's later state."""
    return Outgoing(key=f"crm:{signal.id}:{signal.version}:superseded", kind=CRM_KIND,
                    target=config.crm.label, payload={"event": "resync", "force": True},
                    signal_id=signal.id)
