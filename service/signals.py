"""What people do to a signal: log, qualify, hand off, acknowledge, contact, reassign, close.

Each function is one step of one unit of work: it changes the signal, appends to the event
log, and writes the messages the change causes into the outbox, all on the caller's
session. The caller commits (before acking Slack).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.text import escape, mention
from bot.config import Config
from protocol import stages
from protocol.escalation import may_act_for
from protocol.qualification import Qualification, evaluate
from protocol.record import SignalDraft
from protocol.routing import ownership
from protocol.sla import clock_windows, due_at, plan_steps
from service import outgoing
from service.crm import sync_items
from service.trigger_actions import mark_acted
from storage.models import Deadline, Person, QualificationAnswer, Signal, SignalEvent
from storage.outbox import Outgoing, enqueue
from storage.queries import managers, person, upsert_account


class NotAllowed(Exception):
    """The actor may not act on this signal; `owner` is who may."""

    def __init__(self, owner: str | None):
        super().__init__(f"This signal belongs to {mention(owner)}.")
        self.owner = owner


@dataclass
class Logged:
    """The result of logging: the signal, whether it is new, and its qualification."""

    signal: Signal
    created: bool
    qualification: Qualification


def log_signal(
    session: Session,
    config: Config,
    draft: SignalDraft,
    actor: str,
    now: datetime,
    submission_key: str | None = None,
) -> Logged:
    """Save the CSM's record, then hand it off if qualified or keep it as a watch item."""
    if submission_key:
        existing = session.scalar(select(Signal).where(Signal.submission_key == submission_key))
        if existing is not None:
            return Logged(existing, False, qualification_of(config, existing))
    account = upsert_account(session, draft.account, now, crm_id=draft.crm_id)
    if draft.ae_id:
        account.ae_id = draft.ae_id
    account.csm_id = actor
    signal = _new_signal(draft, account.id, actor, now, submission_key)
    session.add(signal)
    session.flush()
    _set_answers(session, signal, draft.answers, actor, now)
    person(session, actor)
    _event(session, signal, "logged", actor, now, None, stages.SIGNAL, {"source": draft.source})
    mark_acted(session, draft.source, signal.id, actor, now)  # logged from a product trigger
    out = [outgoing.card(signal, "csm", actor, "Signal logged")]
    qualification = evaluate(config.rubric, draft.answers)
    out += _route(session, config, signal, qualification, actor, now)
    enqueue(session, out, now)
    return Logged(signal, True, qualification)


def _new_signal(
    draft: SignalDraft, account_id: int, actor: str, now: datetime, key: str | None
) -> Signal:
    return Signal(
        account_id=account_id,
        csm_id=actor,
        ae_id=draft.ae_id,
        category=draft.category,
        kind=draft.kind,
        detail=draft.detail,
        buyer_name=draft.buyer_name.strip(),
        buyer_title=draft.buyer_title,
        timeline=draft.timeline.strip(),
        timeline_date=draft.timeline_date,
        note=draft.note,
        urgency=draft.urgency,
        est_arr=draft.est_arr,
        stage=stages.SIGNAL,
        source=draft.source,
        message_link=draft.message_link,
        submission_key=key,
        token=1,
        version=1,
        created_at=now,
        updated_at=now,
    )


def qualification_of(config: Config, signal: Signal) -> Qualification:
    """The signal's current answers weighed against the rubric."""
    return evaluate(config.rubric, {a.criterion: a.met for a in signal.answers})


def update_qualification(
    session: Session,
    config: Config,
    signal: Signal,
    answers: dict[str, bool],
    actor: str,
    now: datetime,
) -> Qualification:
    """The CSM ticks boxes later; reaching the threshold hands the signal off then."""
    stages.check_move("requalify", signal.stage)
    if actor != signal.csm_id and not may_act_for(actor, signal.csm_id, {}, config.admins):
        raise NotAllowed(signal.csm_id)
    _set_answers(session, signal, answers, actor, now)
    qualification = evaluate(config.rubric, answers)
    _event(
        session,
        signal,
        "qualification_updated",
        actor,
        now,
        signal.stage,
        signal.stage,
        {"met": [c.key for c in qualification.met]},
    )
    out = []
    if qualification.qualified:
        _cancel_clocks(session, signal, now)
        out += _hand_off(session, config, signal, actor, now)
    out.append(outgoing.refresh(signal))
    enqueue(session, out, now)
    return qualification


def _route(
    session: Session,
    config: Config,
    signal: Signal,
    qualification: Qualification,
    actor: str,
    now: datetime,
) -> list[Outgoing]:
    if qualification.qualified:
        return _hand_off(session, config, signal, actor, now)
    return _keep_watching(session, config, signal, actor, now)


def _hand_off(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> list[Outgoing]:
    stages.check_move("hand_off", signal.stage)
    signal.ownership = ownership(config.routing, signal.est_arr)
    previous = signal.stage
    signal.stage = stages.HANDED_OFF
    signal.handed_off_at = now
    signal.revisit_on = None
    _event(
        session,
        signal,
        "handed_off",
        actor,
        now,
        previous,
        stages.HANDED_OFF,
        {"ae": signal.ae_id, "ownership": signal.ownership},
    )
    sync = sync_items(config, signal, "handed_off")  # the CRM record, webhooks
    if signal.ownership == "cs_led" or not signal.ae_id:
        return sync  # the CSM owns the close: no AE is paged, no AE clock runs
    _start_clocks(session, config, signal, signal.ae_id, now)
    headline = f"New expansion hand-off from {mention(signal.csm_id)}"
    return [outgoing.card(signal, "ae", signal.ae_id, headline), *sync]


def _keep_watching(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> list[Outgoing]:
    previous = signal.stage
    signal.stage = stages.QUALIFYING
    revisit = now + config.watch_revisit
    signal.revisit_on = revisit.date()
    _add_clock(session, signal, "revisit", signal.csm_id, now, revisit)
    _event(
        session,
        signal,
        "kept_watching",
        actor,
        now,
        previous,
        stages.QUALIFYING,
        {"revisit_on": signal.revisit_on.isoformat()},
    )
    return []


def _start_clocks(
    session: Session, config: Config, signal: Signal, owner: str, now: datetime
) -> None:
    tz = _tz_of(session, owner, config)
    for clock, window in clock_windows(signal.urgency, config).items():
        due = due_at(now, window, config, tz)
        steps = plan_steps(clock, now, due, signal.urgency, config, tz)
        _add_clock(session, signal, clock, owner, now, due, steps[0].at)


def _add_clock(
    session: Session,
    signal: Signal,
    clock: str,
    owner: str | None,
    start: datetime,
    due: datetime,
    first_step: datetime | None = None,
) -> Deadline:
    deadline = Deadline(
        signal_id=signal.id,
        clock=clock,
        token=signal.token,
        owner_id=owner,
        started_at=start,
        due_at=due,
        state="open",
        step=0,
        next_step_at=first_step or due,
    )
    session.add(deadline)
    session.flush()
    return deadline


def _tz_of(session: Session, user_id: str, config: Config) -> ZoneInfo:
    found = session.get(Person, user_id)
    if found and found.tz:
        try:
            return ZoneInfo(found.tz)
        except (ValueError, KeyError):
            pass
    return config.timezone


def open_clocks(session: Session, signal: Signal, *clocks: str) -> list[Deadline]:
    """The signal's clocks still running (open or missed-and-escalating)."""
    stmt = select(Deadline).where(
        Deadline.signal_id == signal.id, Deadline.state.in_(("open", "missed"))
    )
    if clocks:
        stmt = stmt.where(Deadline.clock.in_(clocks))
    return list(session.scalars(stmt))


def _meet(session: Session, signal: Signal, now: datetime, *clocks: str) -> None:
    for deadline in open_clocks(session, signal, *clocks):
        deadline.state = "met"
        deadline.met_at = now
        deadline.next_step_at = None


def _cancel_clocks(session: Session, signal: Signal, now: datetime) -> None:
    for deadline in open_clocks(session, signal):
        deadline.state = "cancelled"
        deadline.next_step_at = None


def check_owner(session: Session, config: Config, signal: Signal, actor: str) -> None:
    """Raise NotAllowed unless `actor` is the owner, above them on the roster, or an admin."""
    owner = signal.csm_id if signal.ownership == "cs_led" else signal.ae_id
    if signal.ownership == "joint" and actor == signal.csm_id:
        return
    if not may_act_for(actor, owner, managers(session, config), config.admins):
        raise NotAllowed(owner)


def acknowledge(
    session: Session, config: Config, signal: Signal, actor: str, now: datetime
) -> None:
    """The AE has seen the hand-off: stop the acknowledge clock."""
    stages.check_move("acknowledge", signal.stage)
    check_owner(session, config, signal, actor)
    _meet(session, signal, now, "ack")
    signal.acknowledged_at = now
    _move(session, signal, "acknowledged", actor, now, stages.ACKNOWLEDGED)
    enqueue(session, [outgoing.refresh(signal), _tell_csm(signal, "acknowledged", actor),
                      *sync_items(config, signal, "acknowledged")], now)


def log_contact(
    session: Session,
    config: Config,
    signal: Signal,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """The AE reached the customer: stop the contact clock (and acknowledge, if not yet)."""
    stages.check_move("contact", signal.stage)
    check_owner(session, config, signal, actor)
    if signal.acknowledged_at is None:
        signal.acknowledged_at = now
    _meet(session, signal, now, "ack", "contact", "review")
    signal.contacted_at = now
    _move(session, signal, "contacted", actor, now, stages.CONTACTED, {"note": note})
    _add_clock(session, signal, "outcome", signal.ae_id, now, now + config.outcome_reminder)
    enqueue(session, [outgoing.refresh(signal), _tell_csm(signal, "contacted", actor),
                      *sync_items(config, signal, "contacted")], now)


def reassign(
    session: Session,
    config: Config,
    signal: Signal,
    new_ae: str,
    reason: str,
    actor: str,
    now: datetime,
) -> None:
    """Hand the signal to another AE: fresh clocks for them, the history kept."""
    stages.check_move("reassign", signal.stage)
    check_owner(session, config, signal, actor)
    if new_ae == signal.ae_id:
        raise stages.StageError(f"This signal is already with {mention(new_ae)}.")
    old_ae = signal.ae_id
    _cancel_clocks(session, signal, now)
    signal.token += 1
    signal.ae_id = new_ae
    signal.account.ae_id = new_ae
    signal.acknowledged_at = signal.contacted_at = None
    signal.handed_off_at = now
    _move(
        session,
        signal,
        "reassigned",
        actor,
        now,
        stages.HANDED_OFF,
        {"from": old_ae, "to": new_ae, "reason": reason},
    )
    _start_clocks(session, config, signal, new_ae, now)
    why = f" Reason: {escape(reason)}" if reason else ""
    out = [
        outgoing.refresh(signal),
        outgoing.card(
            signal,
            "ae",
            new_ae,
            f"Reassigned to you by {mention(actor)} (was {mention(old_ae)}).{why}",
        ),
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
) -> None:
    """Close the signal with won / lost / deferred / not ready, and tell the CSM."""
    if outcome not in stages.OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    stages.check_move("outcome", signal.stage)
    check_owner(session, config, signal, actor)
    _cancel_clocks(session, signal, now)
    signal.outcome = outcome
    signal.outcome_reason = reason
    signal.won_arr = won_arr if outcome == "won" else None
    signal.closed_at = now
    if outcome in ("deferred", "not_ready"):
        signal.revisit_on = revisit_on or (now + timedelta(days=90)).date()
        revisit = datetime.combine(signal.revisit_on, now.timetz())
        _add_clock(session, signal, "revisit", signal.csm_id, now, max(revisit, now))
    detail = {
        "reason": reason,
        "won_arr": str(won_arr) if won_arr is not None else None,
        "revisit_on": signal.revisit_on.isoformat() if signal.revisit_on else None,
    }
    _move(session, signal, "outcome", actor, now, outcome, detail)
    enqueue(session, [outgoing.refresh(signal), _tell_csm(signal, "outcome", actor),
                      *sync_items(config, signal, "outcome", detail)], now)


def nudge(session: Session, config: Config, signal: Signal, actor: str, now: datetime) -> None:
    """A manager (or admin) pokes the AE about an open hand-off."""
    if not stages.is_open(signal.stage) or signal.stage not in stages.WITH_AE:
        raise stages.StageError("There is nothing to nudge: the signal is not waiting on the AE.")
    if not may_act_for(actor, signal.ae_id, managers(session, config), config.admins):
        raise NotAllowed(signal.ae_id)
    _event(session, signal, "nudged", actor, now, signal.stage, signal.stage, {"ae": signal.ae_id})
    key = f"nudge:{signal.id}:{actor}:{int(now.timestamp())}"
    text = (
        f"{mention(actor)} is asking about the *{escape(signal.account.name)}* hand-off "
        f"from {mention(signal.csm_id)}: please act on it now."
    )
    enqueue(session, [outgoing.card(signal, "ae", signal.ae_id, text, key_suffix=f":{key}")], now)


def _tell_csm(signal: Signal, what: str, actor: str) -> Outgoing:
    account = escape(signal.account.name)
    if what == "outcome":
        label = stages.OUTCOME_LABELS[signal.outcome]
        text = f"Outcome on your *{account}* signal: *{label}* (recorded by {mention(actor)})."
        if signal.outcome == "won" and signal.won_arr is not None:
            text += f" Expansion ARR: {signal.won_arr:,.0f}."
        if signal.outcome_reason:
            text += f"\n> {escape(signal.outcome_reason)}"
        if signal.revisit_on:
            text += f"\nIt comes back to you on {signal.revisit_on.isoformat()}."
    elif what == "acknowledged":
        text = f"{mention(actor)} acknowledged your *{account}* signal."
    else:
        text = f"{mention(actor)} logged customer contact on your *{account}* signal."
    return outgoing.notice(
        f"tell-csm:{signal.id}:{what}:{signal.token}", signal.csm_id, text, signal
    )


def _move(
    session: Session,
    signal: Signal,
    kind: str,
    actor: str | None,
    now: datetime,
    to_stage: str,
    detail: dict[str, Any] | None = None,
) -> None:
    previous = signal.stage
    signal.stage = to_stage
    _event(session, signal, kind, actor, now, previous, to_stage, detail)


def _event(
    session: Session,
    signal: Signal,
    kind: str,
    actor: str | None,
    now: datetime,
    from_stage: str | None,
    to_stage: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    signal.version += 1
    signal.updated_at = now
    session.add(
        SignalEvent(
            signal_id=signal.id,
            at=now,
            actor_id=actor,
            kind=kind,
            from_stage=from_stage,
            to_stage=to_stage,
            detail=detail,
        )
    )


def _set_answers(
    session: Session, signal: Signal, answers: dict[str, bool], actor: str, now: datetime
) -> None:
    current = {a.criterion: a for a in signal.answers}
    for key, met in answers.items():
        if key in current:
            current[key].met, current[key].answered_by, current[key].answered_at = met, actor, now
        else:
            signal.answers.append(
                QualificationAnswer(criterion=key, met=met, answered_by=actor, answered_at=now)
            )
    session.flush()
