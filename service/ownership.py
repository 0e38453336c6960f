"""A deal can outgrow its model: CS-led (A) -> AE closes (B) -> joint motion (C), with a reason.

`change_ownership` is one step of a unit of work. Moving to B (or to C from A) pages the AE
picked in the modal with the normal hand-off: a fresh token, fresh acknowledge and contact
clocks, their card. Moving to C makes the AE and the CSM co-owners: both get the card (the
CSM's with the close buttons). Every change is an `ownership_changed` event; the digest counts
them as upgrades.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from blocks.text import escape, mention
from protocol import stages
from protocol.config import Config
from protocol.escalation import may_act_for
from protocol.routing import MODEL_LABELS, Ownership, owner_of, upgrades
from service import outgoing
from service.away import page
from service.clocks import cancel_clocks, start_clocks
from service.crm import sync_items
from service.history import move
from service.signals import refuse
from storage.models import Signal
from storage.outbox import Outgoing, enqueue
from storage.queries import managers

EVENT = "ownership_changed"


def check_change(session: Session, config: Config, signal: Signal, actor: str) -> None:
    """Raise unless `actor` may change this signal's model now: its CSM or acting AE (or
    someone above the owner on the roster, an admin), the signal open, handed off, not yet C.

    Who is checked before the stage, so a refusal never reveals the signal's state.
    """
    acting = owner_of(signal.ownership, signal.csm_id, signal.ae_id)
    if actor not in (signal.csm_id, signal.ae_id, signal.acting_ae_id) and not may_act_for(
            actor, acting, managers(session, config.managers), config.admins):
        raise refuse(signal, acting, actor)
    if signal.stage not in stages.WITH_AE:
        if stages.is_open(signal.stage):
            raise stages.StageError("Hand the signal off first: the model applies from the "
                                    "hand-off on.")
        stages.check_move("outcome", signal.stage)  # closed: says so
    if not upgrades(signal.ownership):
        raise stages.StageError("This signal is already a joint motion (Model C), the "
                                "broadest model.")


def change_ownership(session: Session, config: Config, signal: Signal, to: str, actor: str,
                     now: datetime, *, reason: str, ae_id: str | None = None) -> None:
    """Move the signal up to model `to` (see the module docstring)."""
    check_change(session, config, signal, actor)
    if to not in upgrades(signal.ownership):
        choices = " or ".join(MODEL_LABELS[m] for m in upgrades(signal.ownership))
        raise stages.StageError(f"A model only moves up: from {MODEL_LABELS[signal.ownership]}"
                                f" to {choices}.")
    was, ae, old_ae = signal.ownership, ae_id or signal.ae_id, signal.ae_id
    if not ae:
        raise stages.StageError("Pick the AE who takes it.")
    paged = was == Ownership.CS_LED or ae != signal.ae_id
    signal.ownership = Ownership(to)
    out: list[Outgoing] = []
    policy: dict[str, Any] = {}
    if paged:  # an AE is paged: the normal hand-off, with fresh clocks
        cancel_clocks(session, signal, now)
        signal.token += 1
        signal.ae_id = signal.account.ae_id = ae
        signal.handed_off_at = now
        signal.acknowledged_at = signal.contacted_at = None
        policy = start_clocks(session, config, signal, ae, now)
    detail = {"from": was, "to": signal.ownership.value, "reason": reason, "ae": ae}
    move(session, signal, EVENT, actor, now,
         stages.HANDED_OFF if paged else signal.stage, detail | policy)
    account, why = escape(signal.account.name), escape(reason)
    label = MODEL_LABELS[signal.ownership]
    if paged:  # the AE, or while they are away whoever acts for them
        out += page(session, config, signal, f"{mention(actor)} moved this deal to *{label}*: "
                    f"it is yours to close. Reason: {why}", now)
    if signal.ownership == Ownership.JOINT:
        out.append(outgoing.card(signal, "csm", signal.csm_id,
                                 f"You now co-own this deal with {mention(ae)} "
                                 f"(*{label}*). Reason: {why}", key_suffix=":joint"))
    elif actor != signal.csm_id:
        out.append(outgoing.notice(f"ownership:{signal.id}:{signal.version}:csm", signal.csm_id,
                                   f"{mention(actor)} moved your *{account}* signal to "
                                   f"*{label}*, with {mention(ae)}. Reason: {why}", signal))
    if paged and was != Ownership.CS_LED and old_ae and old_ae not in (ae, actor):
        out.append(outgoing.notice(f"ownership:{signal.id}:{signal.version}:old", old_ae,
                                   f"{mention(actor)} moved the *{account}* deal to *{label}* "
                                   f"with {mention(ae)}: it is off your list. Reason: {why}",
                                   signal))
    if not paged and actor != ae:
        out.append(outgoing.notice(f"ownership:{signal.id}:{signal.version}:ae", ae,
                                   f"{mention(actor)} moved the *{account}* deal to *{label}*: "
                                   f"you and {mention(signal.csm_id)} co-own it. Reason: {why}",
                                   signal))
    out += [outgoing.refresh(signal), *sync_items(config, signal, EVENT, detail)]
    enqueue(session, out, now)
