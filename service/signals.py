"""The hand-off once it is with the AE: acknowledge, contact, reassign, nudge, close.

Each function is one step of one unit of work on the caller's session: it checks the move
and the actor, changes the signal, appends to its event log and writes the messages the
change causes into the outbox. The caller commits (before acking Slack).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from blocks.text import escape, mention
from protocol import stages
from protocol.config import Config
from protocol.routing import Ownership, owner_of
from service import outgoing
from service.away import may_act, page
from service.clocks import add_clock, cancel_clocks, meet, start_clocks
from service.crm import sync_items
from service.history import move, record_event
from storage.models import Signal
from storage.outbox import Outgoing, enqueue, queued

SLACK, CRM = "slack", "crm"  # where a step was taken: in Slack, or read back from the CRM


class NotAllowed(Exception):
    """The actor may not act on this signal; `owner` is who may.

    The owner is named only to someone on the signal (its CSM or AE): anyone else learns
    nothing about it, not even who has it.
    """

    def __init__(self, owner: str | None, shown: bool = True):
        super().__init__(
            f"This signal belongs to {mention(owner)}." if shown
            else "That signal is not yours: only its owner, their managers or an admin can act."
        )
        self.owner = owner


def refuse(signal: Signal, owner: str | None, actor: str) -> NotAllowed:
    """The refusal `actor` sees: the owner named only to the signal's own CSM or AE."""
    return NotAllowed(owner, shown=actor in (signal.csm_id, signal.ae_id))


def check_owner(session: Session, config: Config, signal: Signal, actor: str,
                now: datetime | None = None) -> None:
    """Raise NotAllowed unless `actor` is the owner, the acting AE (their cover while they are
    away), above them on the roster, an admin, or (given `now`) covers for one of those.

    Called before any check of the stage, so a refusal never reveals the signal's state.
    """
    owner = owner_of(signal.ownership, signal.csm_id, signal.ae_id)
    if signal.ownership == Ownership.JOINT and actor == signal.csm_id:
        return
    if actor == signal.acting_ae_id and signal.ae_id == owner:
        return
    if not may_act(session, config, actor, owner, now):
        raise refuse(signal, owner, actor)


def acknowledge(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> None:
    """The AE has seen the hand-off: stop the acknowledge clock."""
    check_owner(session, config, signal, actor, now)
    stages.check_move("acknowledge", signal.stage)
    meet(session, signal, now, "ack")
    signal.acknowledged_at = now
    move(session, signal, "acknowledged", actor, now, stages.ACKNOWLEDGED)
    enqueue(
        session,
        [
            outgoing.refresh(signal),
            _tell_csm(signal, "acknowledged", actor),
            *sync_items(config, signal, "acknowledged"),
        ],
        now,
    )


def log_contact(
    session: Session,
    config: Config,
    signal: Signal,
    actor: str,
    now: datetime,
    note: str | None = None,
    source: str = SLACK,
) -> None:
    """The AE reached the customer: stop the contact clock (and acknowledge, if not yet).

    `source` CRM: the deal reached the contacted stage in the CRM; the actor is its owner,
    who needs no check (the CRM decided who may move the deal).
    """
    if source == SLACK:
        check_owner(session, config, signal, actor, now)
    stages.check_move("contact", signal.stage)
    if signal.acknowledged_at is None:
        signal.acknowledged_at = now
    meet(session, signal, now, "ack", "contact", "review")
    signal.contacted_at = now
    detail = {"note": note} if source == SLACK else {"note": note, "source": source}
    move(session, signal, "contacted", actor, now, stages.CONTACTED, detail)
    add_clock(session, signal, "outcome", signal.ae_id, now, now + config.outcome_reminder)
    enqueue(
        session,
        [
            outgoing.refresh(signal),
            _tell_csm(signal, "contacted", actor, _where(config, source)),
            *sync_items(config, signal, "contacted"),
        ],
        now,
    )


def reassign(
    session: Session,
    config: Config,
    signal: Signal,
    new_ae: str,
    reason: str,
    actor: str,
    now: datetime,
    source: str = SLACK,
) -> None:
    """Hand the signal to another AE: fresh clocks for them, the history kept.

    `source` CRM: the deal's owner was changed in the CRM (no owner check).
    """
    if source == SLACK:
        check_owner(session, config, signal, actor, now)
    stages.check_move("reassign", signal.stage)
    if new_ae == signal.ae_id:
        raise stages.StageError(f"This signal is already with {mention(new_ae)}.")
    old_ae = signal.ae_id
    cancel_clocks(session, signal, now)
    signal.token += 1
    signal.ae_id = new_ae  # the account's own AE is the registry's, never changed here
    signal.acknowledged_at = signal.contacted_at = None
    signal.handed_off_at = now
    policy = start_clocks(session, config, signal, new_ae, now)
    move(
        session,
        signal,
        "reassigned",
        actor,
        now,
        stages.HANDED_OFF,
        {"from": old_ae, "to": new_ae, "reason": reason}
        | ({} if source == SLACK else {"source": source}) | policy,
    )
    why = f" Reason: {escape(reason)}" if reason else ""
    out = [
        outgoing.refresh(signal),
        *page(session, config, signal,
              f"Reassigned to you by {mention(actor)} (was {mention(old_ae)}).{why}", now),
        outgoing.notice(
            f"reassigned:{signal.id}:{signal.token}:csm",
            signal.csm_id,
            f"Your signal on *{escape(signal.account.name)}* was reassigned from "
            f"{mention(old_ae)} to {mention(new_ae)} by {mention(actor)}.{why}",
            signal,
        ),
    ]
    if old_ae and old_ae != actor:
        out.append(
            outgoing.notice(
                f"reassigned:{signal.id}:{signal.token}:old",
                old_ae,
                f"The signal on *{escape(signal.account.name)}* was "
                f"reassigned to {mention(new_ae)} by {mention(actor)}.{why}",
                signal,
            )
        )
    out += sync_items(config, signal, "reassigned", {"from": old_ae, "to": new_ae})
    enqueue(session, out, now)


def record_outcome(
    session: Session,
    config: Config,
    signal: Signal,
    outcome: str,
    actor: str,
    now: datetime,
    *,
    reason: str | None = None,
    won_arr: Decimal | None = None,
    revisit_on: date | None = None,
    source: str = SLACK,
) -> None:
    """Close the signal with won / lost / deferred / not ready, and tell the CSM.

    `source` CRM: the deal reached a won/lost stage in the CRM. No owner check, and a later
    CRM change may replace an outcome recorded earlier (the event log keeps both).
    """
    if outcome not in stages.OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    was = signal.outcome
    if source == SLACK:
        check_owner(session, config, signal, actor, now)
    if source == SLACK or was is None:
        stages.check_move("outcome", signal.stage)
    cancel_clocks(session, signal, now)
    signal.outcome = outcome
    signal.outcome_reason = reason
    signal.won_arr = won_arr if outcome == "won" else None
    signal.closed_at = now
    if outcome in ("deferred", "not_ready"):
        signal.revisit_on = revisit_on or (now + timedelta(days=90)).date()
        revisit = datetime.combine(signal.revisit_on, now.timetz())
        add_clock(session, signal, "revisit", signal.csm_id, now, max(revisit, now))
    detail = {
        "reason": reason,
        "won_arr": str(won_arr) if won_arr is not None else None,
        "revisit_on": signal.revisit_on.isoformat() if signal.revisit_on else None,
    }
    if source != SLACK:
        detail |= {"source": source, "was": was}
    move(session, signal, "outcome", actor, now, outcome, detail)
    enqueue(
        session,
        [
            outgoing.refresh(signal),
            _tell_csm(signal, "outcome", actor, _where(config, source)),
            *sync_items(config, signal, "outcome", detail),
        ],
        now,
    )


def nudge(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime,
    press: str | None = None,
) -> None:
    """A manager (or admin) pokes the AE about an open hand-off, once per press.

    `press` is Slack's `action_ts` of the button press: a replay of the same press (a retry,
    or a captured request sent again) finds its message already queued and does nothing.
    """
    if not may_act(session, config, actor, signal.ae_id, now):
        raise refuse(signal, signal.ae_id, actor)
    if not stages.is_open(signal.stage) or signal.stage not in stages.WITH_AE:
        raise stages.StageError("There is nothing to nudge: the signal is not waiting on the AE.")
    target = signal.acting_ae_id or signal.ae_id  # while the AE is away: whoever acts for them
    if target == actor:
        raise stages.StageError(f"{mention(signal.ae_id)} is away and this hand-off is with you: "
                                "act on it, or reassign it.")
    key = f"nudge:{signal.id}:{actor}:{press or int(now.timestamp())}"
    text = (
        f"{mention(actor)} is asking about the *{escape(signal.account.name)}* hand-off "
        f"from {mention(signal.csm_id)}: please act on it now."
    )
    item = outgoing.card(signal, "ae", target, text, key_suffix=f":{key}")
    if queued(session, item.key):
        return
    record_event(
        session, signal, "nudged", actor, now, signal.stage, signal.stage, {"ae": target}
    )
    enqueue(session, [item], now)


def _where(config: Config, source: str) -> str:
    return f" in {config.crm.label}" if source == CRM else ""


def _tell_csm(signal: Signal, what: str, actor: str, where: str = "") -> Outgoing:
    account = escape(signal.account.name)
    key = f"tell-csm:{signal.id}:{what}:{signal.token}"
    if what == "outcome":
        label = stages.OUTCOME_LABELS[signal.outcome]
        text = (f"Outcome on your *{account}* signal: *{label}* "
                f"(recorded by {mention(actor)}{where}).")
        key += f":{signal.version}" if where else ""  # a CRM correction is news again
        if signal.outcome == "won" and signal.won_arr is not None:
            text += f" Expansion ARR: {signal.won_arr:,.0f}."
        if signal.outcome_reason:
            text += f"\n> {escape(signal.outcome_reason)}"
        if signal.revisit_on:
            text += f"\nIt comes back to you on {signal.revisit_on.isoformat()}."
    elif what == "acknowledged":
        text = f"{mention(actor)} acknowledged your *{account}* signal."
    else:
        text = f"{mention(actor)} logged customer contact on your *{account}* signal{where}."
    return outgoing.notice(key, signal.csm_id, text, signal)
