"""The SLA sweep: run every reminder and escalation that has fallen due, exactly once.

Deadlines are rows. The sweep takes the due ones (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
so replicas split the work), runs their steps, writes the messages into the outbox and
moves each clock on, all in one transaction. Its cost follows what is due, not what is
stored: `next_step_at` is NULL for every clock with nothing left to do.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.text import duration, escape, mention
from protocol.config import Config
from protocol.escalation import escalation_target
from protocol.sla import ClockState, Step, due_steps, next_step_at, plan_steps
from service import outgoing
from service.clocks import tz_of
from service.crm import sync_items
from service.history import record_event
from storage.db import is_postgres
from storage.models import Deadline, Escalation, Person, Signal
from storage.outbox import Outgoing, enqueue
from storage.queries import managers, person

log = logging.getLogger(__name__)

REMINDER_TEXT = {
    "ack": "Reminder: acknowledge this hand-off by {due}.",
    "contact": "Reminder: log customer contact on this hand-off by {due}.",
    "review": "Watch item due for review at your account sync ({due}).",
    "outcome": "This signal was contacted a while ago: please record the outcome.",
    "revisit": "Time to revisit this signal: is the customer moving now?",
}
CLOCK_NAMES = {"ack": "acknowledge", "contact": "customer contact"}


def sweep(session: Session, config: Config, now: datetime, limit: int = 500,
          steps: Counter[str] | None = None) -> int:
    """Run the due steps of up to `limit` clocks; return how many clocks were handled.

    `steps`, when given, counts what was decided: "reminder", "escalation:<level>".
    """
    stmt = (
        select(Deadline)
        .where(Deadline.next_step_at <= now)
        .order_by(Deadline.next_step_at, Deadline.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(session.scalars(stmt))
    if not due:
        return 0
    roster = managers(session, config.managers)
    loaded, escalated = _preload(session, due)  # noqa: F841 - `loaded` keeps rows in the map
    out: list[Outgoing] = []
    with session.no_autoflush:  # writes go out together at commit, not one by one
        for deadline in due:
            out += _advance(session, config, deadline, roster, escalated, now,
                            Counter() if steps is None else steps)
    enqueue(session, out, now)
    return len(due)


def _preload(session: Session, due: list[Deadline]) -> tuple[list, set[tuple[int, int]]]:
    """Signals, owners and past escalations of the due clocks, in three queries.

    The session's identity map holds rows weakly: the returned list keeps them there, so
    the loop's `session.get` calls are answered without a query each.
    """
    signal_ids = {d.signal_id for d in due}
    owners = {d.owner_id for d in due if d.owner_id}
    loaded = list(session.scalars(select(Signal).where(Signal.id.in_(signal_ids))))
    loaded += list(session.scalars(select(Person).where(Person.slack_id.in_(owners))))
    rows = session.execute(
        select(Escalation.deadline_id, Escalation.level)
        .where(Escalation.deadline_id.in_([d.id for d in due]))
    )
    escalated = {(deadline_id, level) for deadline_id, level in rows}
    return loaded, escalated


def _advance(
    session: Session,
    config: Config,
    deadline: Deadline,
    roster: dict[str, str],
    escalated: set[tuple[int, int]],
    now: datetime,
    taken: Counter[str],
) -> list[Outgoing]:
    signal = session.get(Signal, deadline.signal_id)
    settled = deadline.state in (ClockState.MET, ClockState.CANCELLED)
    if signal is None or deadline.token != signal.token or settled:
        deadline.next_step_at = None
        return []
    steps = _steps(session, config, deadline, signal)
    to_run, deadline.step = due_steps(steps, deadline.step, now)
    deadline.next_step_at = next_step_at(steps, deadline.step)
    out: list[Outgoing] = []
    for step in to_run:
        if step.kind == "remind":
            out.append(_reminder(deadline, signal, steps.index(step)))
            taken["reminder"] += 1
        else:
            decided = _escalate(session, config, deadline, signal, step, roster, escalated, now)
            taken[f"escalation:{step.level}"] += 1 if decided else 0
            out += decided
    return out


def _steps(session: Session, config: Config, deadline: Deadline, signal: Signal) -> list[Step]:
    return plan_steps(
        deadline.clock,
        deadline.started_at,
        deadline.due_at,
        signal.urgency,
        config.sla_policy,
        tz_of(session, deadline.owner_id, config),
    )


def _reminder(deadline: Deadline, signal: Signal, index: int) -> Outgoing:
    from blocks.text import when

    text = REMINDER_TEXT.get(deadline.clock, "Reminder").format(due=when(deadline.due_at))
    audience = "csm" if deadline.clock == "revisit" else "ae"
    item = outgoing.card(
        signal,
        audience,
        deadline.owner_id or signal.csm_id,
        f":alarm_clock: {text}",
        key_suffix=f":remind:{deadline.id}:{index}",
    )
    item.guard_deadline_id = deadline.id
    return item


def _escalate(
    session: Session,
    config: Config,
    deadline: Deadline,
    signal: Signal,
    step: Step,
    roster: dict[str, str],
    escalated: set[tuple[int, int]],
    now: datetime,
) -> list[Outgoing]:
    if (deadline.id, step.level) in escalated:
        return []  # decided before (the unique constraint is the last word)
    escalated.add((deadline.id, step.level))
    deadline.state = ClockState.MISSED
    target = escalation_target(deadline.owner_id, step.level, roster, config.admins)
    late = (now - deadline.due_at).total_seconds()
    session.add(
        Escalation(
            signal_id=signal.id,
            deadline_id=deadline.id,
            level=step.level,
            ae_id=deadline.owner_id,
            to_ids={"users": list(target.users)},
            reason=target.reason,
            due_at=step.at,
            decided_at=now,
        )
    )
    record_event(
        session,
        signal,
        "escalated",
        None,
        now,
        signal.stage,
        signal.stage,
        {
            "clock": deadline.clock,
            "level": step.level,
            "to": list(target.users),
            "reason": target.reason,
            "missed_by_s": int(late),
            "lateness_s": int((now - step.at).total_seconds()),
        },
    )
    if not target.users:
        log.error("signal %s: SLA missed but no manager or admin to escalate to", signal.id)
    messages = _escalation_messages(deadline, signal, step.level, target.users, target.reason, late)
    sync = sync_items(config, signal, "escalated",  # the CRM record, webhooks
                      {"clock": deadline.clock, "level": step.level, "to": list(target.users)})
    return [*messages, outgoing.refresh(signal), *sync]  # every card shows "missed, escalated"


def _escalation_messages(
    deadline: Deadline,
    signal: Signal,
    level: int,
    users: tuple[str, ...],
    reason: str,
    late_s: float,
) -> list[Outgoing]:
    what = CLOCK_NAMES.get(deadline.clock, deadline.clock)
    account = escape(signal.account.name)
    gap = (
        " (no manager on the roster for this AE, so it comes to the admins)"
        if reason == "roster_gap"
        else ""
    )
    headline = (
        f":rotating_light: *Missed SLA* — {mention(deadline.owner_id)} did not {what} the "
        f"*{account}* hand-off ({signal.urgency.title()}) in time: {duration(late_s)} late."
        f" Escalation level {level}{gap}."
    )
    out = [
        outgoing.card(signal, "manager", user, headline, key_suffix=f":esc:{deadline.id}:{level}")
        for user in users
    ]
    to = ", ".join(mention(u) for u in users) or "nobody (no admins configured)"
    for who, recipient in (("ae", deadline.owner_id), ("csm", signal.csm_id)):
        if recipient and recipient not in users:
            out.append(
                outgoing.notice(
                    f"escalated:{deadline.id}:{level}:{who}",
                    recipient,
                    f"The *{account}* hand-off missed its {what} SLA and was escalated to {to}.",
                    signal,
                )
            )
    return out


def owner_unreachable(
    session: Session, config: Config, user_id: str, now: datetime, why: str
) -> int:
    """Slack says the AE is gone: their next running clock is missed now and escalates at once.

    Only the earliest open clock of each signal (acknowledge before contact) is escalated,
    so the manager hears once per signal, not once per clock.
    """
    person(session, user_id).deactivated = True
    clocks = session.scalars(
        select(Deadline)
        .where(
            Deadline.owner_id == user_id,
            Deadline.state == ClockState.OPEN,
            Deadline.clock.in_(("ack", "contact")),
        )
        .order_by(Deadline.signal_id, Deadline.due_at)
    ).all()
    seen: set[int] = set()
    for deadline in clocks:
        if deadline.signal_id in seen:
            continue
        seen.add(deadline.signal_id)
        signal = session.get(Signal, deadline.signal_id)
        deadline.due_at = min(deadline.due_at, now)
        deadline.step = max(deadline.step, len(config.reminders))  # the first escalation step
        deadline.next_step_at = now
        record_event(
            session,
            signal,
            "ae_unreachable",
            None,
            now,
            signal.stage,
            signal.stage,
            {"ae": user_id, "why": why},
        )
    return len(seen)
