"""Extensions: the AE asks for more time on customer contact; the manager approves or declines.

A request is not a pause: the contact clock runs while it waits. Approval moves the clock's
deadline and re-plans its reminders; a decline leaves it. One request waits per signal at a
time, every request and answer is a `SignalEvent`, and every message it causes goes into the
outbox in the caller's unit of work.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from blocks.card import APPROVER
from blocks.text import escape, mention, when
from blocks.views import ExtensionView
from protocol import stages
from protocol.config import Config
from protocol.escalation import escalation_target, may_act_for
from protocol.extension import (
    EXTENDED_CLOCK,
    ExtensionState,
    check_new_day,
    latest_allowed,
    new_deadline,
)
from protocol.sla import ClockState, next_step_at, plan_steps
from service import outgoing
from service.away import away_now
from service.calendars import person_hours
from service.clocks import tz_of
from service.history import record_event
from service.policies import clock_policy
from service.signals import check_owner
from storage.models import Deadline, Extension, Signal
from storage.outbox import Outgoing, enqueue
from storage.queries import managers


class BadDate(ValueError):
    """The picked date cannot be the new contact date (the message says why)."""


def contact_clock(session: Session, signal: Signal) -> Deadline | None:
    """The signal's contact clock, if it is running and not missed yet."""
    return session.scalar(select(Deadline).where(
        Deadline.signal_id == signal.id, Deadline.token == signal.token,
        Deadline.clock == EXTENDED_CLOCK, Deadline.state == ClockState.OPEN))


def pending(session: Session, signal: Signal, now: datetime) -> Extension | None:
    """The signal's waiting request; one whose clock stopped or passed is lapsed now."""
    extension = session.scalar(select(Extension).where(
        Extension.signal_id == signal.id, Extension.state == ExtensionState.PENDING))
    if extension is None or _answerable(session, signal, extension, now):
        return extension
    _lapse(session, signal, extension, now)
    return None


def _answerable(session: Session, signal: Signal, extension: Extension, now: datetime) -> bool:
    deadline = session.get(Deadline, extension.deadline_id)
    return (deadline is not None and deadline.token == signal.token
            and deadline.state == ClockState.OPEN and deadline.due_at > now
            and stages.is_open(signal.stage) and "contact" in stages.allowed_actions(signal.stage))


def _lapse(session: Session, signal: Signal, extension: Extension, now: datetime) -> None:
    extension.state = ExtensionState.LAPSED
    extension.decided_at = now
    record_event(session, signal, "extension_lapsed", None, now, signal.stage, signal.stage,
                 {"extension": extension.id})
    session.flush()  # the pending slot is free before a new request is inserted


def check_ask(session: Session, config: Config, signal: Signal, actor: str,
              now: datetime) -> Deadline:
    """The contact clock a request by `actor` would move; StageError says why not."""
    check_owner(session, config, signal, actor)
    waiting = pending(session, signal, now)
    if waiting is not None:
        who = ", ".join(mention(u) for u in waiting.approvers["users"]) or "an admin"
        raise stages.StageError(f"A request for more time is already waiting for {who}.")
    deadline = contact_clock(session, signal)
    if deadline is None or not stages.is_open(signal.stage) or \
            "contact" not in stages.allowed_actions(signal.stage):
        raise stages.StageError("Customer contact is not on a running clock: there is nothing "
                                "to extend.")
    if deadline.due_at <= now:
        raise stages.StageError("The contact deadline has already passed.")
    return deadline


def latest_day(session: Session, config: Config, signal: Signal, deadline: Deadline,
               now: datetime) -> date:
    """The last day a request may ask for, in the AE's time zone."""
    tz = tz_of(session, deadline.owner_id, config)
    return latest_allowed(deadline.due_at, now, config.extension_max).astimezone(tz).date()


def ask(session: Session, config: Config, signal: Signal, actor: str, day: date, reason: str,
        now: datetime) -> Extension:
    """Ask for contact by `day`: the AE's manager (their cover while they are away, else one
    level up; the admins at a gap) is asked to approve."""
    deadline = check_ask(session, config, signal, actor, now)
    tz = tz_of(session, deadline.owner_id, config)
    problem = check_new_day(day, deadline.due_at, now, tz, config.extension_max)
    if problem:
        raise BadDate(problem)
    roster = managers(session, config.managers)
    target = escalation_target(deadline.owner_id, 1, roster, config.admins,
                               away_now(session, now))  # a manager away: their cover answers
    approvers = [u for u in target.users if u != actor] or \
        [a for a in config.admins if a != actor]
    extension = Extension(
        signal_id=signal.id, deadline_id=deadline.id, ae_id=deadline.owner_id, asked_by=actor,
        approvers={"users": approvers}, old_due=deadline.due_at,
        new_due=new_deadline(day, deadline.due_at, tz), reason=reason,
        state=ExtensionState.PENDING, asked_at=now)
    session.add(extension)
    session.flush()
    record_event(session, signal, "extension_requested", actor, now, signal.stage, signal.stage,
                 {"extension": extension.id, "from": deadline.due_at.isoformat(),
                  "to": extension.new_due.isoformat(), "reason": reason, "to_users": approvers})
    headline = (f":hourglass_flowing_sand: {mention(actor)} asks for more time on the "
                f"*{escape(signal.account.name)}* hand-off.")
    out = [_approver_card(signal, extension, user, headline) for user in approvers]
    enqueue(session, [*out, outgoing.refresh(signal)], now)
    return extension


def _approver_card(signal: Signal, extension: Extension, user: str, headline: str) -> Outgoing:
    item = outgoing.card(signal, APPROVER, user, headline, key_suffix=f":ext:{extension.id}")
    item.payload["extension"] = extension.id
    return item


def may_answer(session: Session, config: Config, extension: Extension, actor: str) -> bool:
    """The AE's manager (or anyone above them), an admin, or an approver it was sent to;
    never the person who asked."""
    if actor == extension.asked_by or actor == extension.ae_id:
        return actor in config.admins and actor != extension.asked_by
    roster = managers(session, config.managers)
    return actor in extension.approvers["users"] or \
        may_act_for(actor, extension.ae_id, roster, config.admins)


def decide(session: Session, config: Config, signal: Signal, extension_id: int, actor: str,
           approve: bool, now: datetime) -> Extension:
    """Approve (move the contact deadline, re-plan its reminders) or decline, once.

    StageError for an answer that cannot apply: decided already, lapsed, or not theirs.
    """
    extension = session.get(Extension, extension_id)
    if extension is None or extension.signal_id != signal.id:
        raise stages.StageError("That request for more time no longer exists.")
    if not may_answer(session, config, extension, actor):
        raise stages.StageError("Only the AE's manager or an admin can answer this request.")
    _check_waiting(session, signal, extension, now)
    state = ExtensionState.APPROVED if approve else ExtensionState.DECLINED
    won = session.execute(
        update(Extension)
        .where(Extension.id == extension.id, Extension.state == ExtensionState.PENDING)
        .values(state=state, decided_by=actor, decided_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:  # someone else answered between our read and this write
        session.refresh(extension)
        raise stages.StageError(_already(extension))
    session.refresh(extension)
    if approve:
        _move_deadline(session, config, session.get(Deadline, extension.deadline_id),
                       signal, extension.new_due, now)
    record_event(session, signal, f"extension_{state}", actor, now, signal.stage, signal.stage,
                 {"extension": extension.id, "from": extension.old_due.isoformat(),
                  "to": extension.new_due.isoformat(), "ae": extension.ae_id})
    enqueue(session, [outgoing.refresh(signal), *_tell(signal, extension, actor)], now)
    return extension


def _check_waiting(session: Session, signal: Signal, extension: Extension, now: datetime) -> None:
    if extension.state != ExtensionState.PENDING:
        raise stages.StageError(_already(extension))
    if not _answerable(session, signal, extension, now):
        _lapse(session, signal, extension, now)
        enqueue(session, [outgoing.refresh(signal)], now)
        raise stages.StageError("Too late to answer: the contact deadline passed or the hand-off "
                                "moved on, so this request lapsed.")


def _already(extension: Extension) -> str:
    if extension.state == ExtensionState.LAPSED:
        return "This request lapsed: the contact deadline passed or the hand-off moved on."
    return (f"This request was already {extension.state} by {mention(extension.decided_by)}"
            f" {when(extension.decided_at)}." if extension.decided_at else
            f"This request was already {extension.state}.")


def _move_deadline(session: Session, config: Config, deadline: Deadline, signal: Signal,
                   new_due: datetime, now: datetime) -> None:
    """The clock is due at `new_due`; steps already behind us are not run again."""
    deadline.due_at = new_due
    policy = clock_policy(config, deadline.policy)  # the policy the clock started under
    policy = policy.with_hours(person_hours(config, policy.business_hours, deadline.owner_id))
    steps = plan_steps(deadline.clock, deadline.started_at, new_due, signal.urgency, policy,
                       tz_of(session, deadline.owner_id, config))
    deadline.step = sum(1 for s in steps if s.at <= now)
    deadline.next_step_at = next_step_at(steps, deadline.step)


def _tell(signal: Signal, extension: Extension, actor: str) -> list[Outgoing]:
    account = escape(signal.account.name)
    if extension.state == ExtensionState.APPROVED:
        what = f"approved: customer contact is now due by {when(extension.new_due)}"
    else:
        what = f"declined: customer contact stays due by {when(extension.old_due)}"
    text = (f"{mention(actor)} {what} (the request for more time on the *{account}* "
            "hand-off).")
    people = {"ae": extension.asked_by, "csm": signal.csm_id}
    if extension.ae_id and extension.ae_id != extension.asked_by:
        people["owner"] = extension.ae_id
    return [outgoing.notice(f"extension:{extension.id}:{extension.state}:{who}", user, text,
                            signal)
            for who, user in people.items() if user and user != actor]


def extension_view(session: Session, signal: Signal, extension_id: int | None,
                   ) -> ExtensionView | None:
    """The request an approver's card shows (`extension_id`), else the signal's waiting one."""
    if extension_id is not None:
        extension = session.get(Extension, extension_id)
    else:
        extension = session.scalar(select(Extension).where(
            Extension.signal_id == signal.id, Extension.state == ExtensionState.PENDING))
    if extension is None:
        return None
    deadline = session.get(Deadline, extension.deadline_id)
    running = deadline is not None and deadline.token == signal.token and \
        deadline.state == ClockState.OPEN and stages.is_open(signal.stage)
    return ExtensionView(
        id=extension.id, ae_id=extension.ae_id, asked_by=extension.asked_by,
        approvers=tuple(extension.approvers["users"]), old_due=extension.old_due,
        new_due=extension.new_due, reason=extension.reason, state=extension.state,
        decided_by=extension.decided_by, decided_at=extension.decided_at,
        open=running and extension.state == ExtensionState.PENDING)
