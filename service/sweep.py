"""The SLA sweep: run every reminder and escalation that has fallen due, exactly once.

Deadlines are rows. A batch is set-based: one statement claims the due clocks with their
signals (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas split the work), two more read
the roster and the escalations decided before; `protocol.sweep.decide` says what each clock
does (pure); then each kind of row is written with one statement (escalations with
`ON CONFLICT DO NOTHING`, events, clocks, outbox rows), all in one transaction. Its cost
follows what is due, not what is stored (`next_step_at` is NULL for every clock with nothing
left to do), and its statement count does not follow what the batch holds
(`tests/test_sweep_statements.py`).

An escalation does not move its signal's `version` (nor `updated_at`): the sweep writes no
`signals` row (each such update touched every index of the table). What a version names
elsewhere is named by the escalation instead: the card refresh, the CRM write (sent even
though the CRM holds that version: it now shows "escalated") and the webhook post are keyed
`…:esc:<clock>:<level>`, and the webhook's `occurred_at` is the sweep's time.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from blocks.text import duration, escape, mention, when
from protocol.away import final_cover
from protocol.config import Config
from protocol.escalation import Target
from protocol.policy import SlaPolicy
from protocol.sla import ClockState
from protocol.sweep import DueClock, Escalate, Move, Roster, decide
from service import outgoing
from service.away import away_now
from service.calendars import person_hours
from service.clocks import zone_named
from service.crm import sync_items
from service.history import record_event
from service.policies import clock_policy
from storage import sweep as rows
from storage.models import Deadline, Signal
from storage.outbox import Outgoing, enqueue
from storage.queries import managers, person
from storage.sweep import DueRow

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
    due = rows.claim_due(session, now, limit)
    if not due:
        return 0
    # who is away comes from the process's cache (service.away: at most a few seconds stale)
    roster = Roster(managers(session, config.managers), config.admins, away_now(session, now))
    decided: dict[int, set[int]] = defaultdict(set)
    for deadline_id, level in rows.escalated(session, (row.id for row in due)):
        decided[deadline_id].add(level)
    policies = _policies(config, due)  # each as it started
    zones = _manager_zones(session, due, policies, roster)
    moves = [(row, decide(_due_clock(row, config, policy, roster, zones), owned, roster,
                          decided[row.id], now))
             for row, policy, owned in zip(due, policies, _owned(config, due, policies),
                                           strict=True)]
    batch = _Batch(config, now, steps if steps is not None else Counter(), roster.away,
                   {row.signal_id: _Signal.of(row) for row in due})
    batch.inserted = rows.insert_escalations(session, [
        _escalation_row(row, e) for row, move in moves for e in move.escalations], now)
    if config.webhooks and batch.inserted:  # a webhook's body is the whole signal
        batch.documents = rows.signals(session, {row.signal_id for row, move in moves
                                                 if move.escalations})
    for row, move in moves:
        batch.take(row, move)
    batch.write(session)
    return len(due)


@dataclass
class _Signal:
    """What a batch reads of a due clock's signal; the outbox items it causes name it by id,
    token and version (`service.outgoing`)."""

    id: int
    token: int
    version: int
    stage: str
    urgency: str
    csm_id: str
    account: str  # its name

    @classmethod
    def of(cls, row: DueRow) -> _Signal:
        return cls(row.signal_id, row.signal_token, row.version, row.stage, row.urgency,
                   row.csm_id, row.account)


def _policies(config: Config, due: Sequence[DueRow]) -> list[SlaPolicy]:
    """Each clock's SLA policy as it started (its snapshot), read once per distinct snapshot:
    a batch's clocks share a few."""
    read = {snapshot: clock_policy(config, json.loads(snapshot) if snapshot else None)
            for snapshot in {row.policy for row in due}}
    return [read[row.policy] for row in due]


def _owned(config: Config, due: Sequence[DueRow], policies: list[SlaPolicy]
           ) -> list[SlaPolicy]:
    """Each clock's policy in its owner's calendar (their country's public holidays), made
    once per policy and owner."""
    made: dict[tuple[str | None, str | None], SlaPolicy] = {}
    for row, policy in zip(due, policies, strict=True):
        if (row.policy, row.owner_id) not in made:
            made[row.policy, row.owner_id] = policy.with_hours(
                person_hours(config, policy.business_hours, row.owner_id))
    return [made[row.policy, row.owner_id] for row in due]


def _manager_zones(session: Session, due: Sequence[DueRow], policies: list[SlaPolicy],
                   roster: Roster) -> dict[str, str | None]:
    """The time zones of the managers whose working time counts for a clock of the batch
    (clocks in working time only): one statement, none when every clock is in calendar time."""
    wanted = {roster.managers[row.owner_id] for row, policy in zip(due, policies, strict=True)
              if policy.business_hours.enabled and row.owner_id in roster.managers}
    return rows.zones(session, wanted) if wanted else {}


def _due_clock(row: DueRow, config: Config, policy: SlaPolicy, roster: Roster,
               zones: dict[str, str | None]) -> DueClock:
    manager = roster.managers.get(row.owner_id or "")
    climb = None
    if manager is not None and policy.business_hours.enabled:  # the manager's time to act
        climb = (person_hours(config, policy.business_hours, manager),
                 zone_named(zones.get(manager), config))
    return DueClock(id=row.id, clock=row.clock, owner_id=row.owner_id,
                    started_at=row.started_at, due_at=row.due_at, state=row.state,
                    step=row.step, current=row.token == row.signal_token,
                    urgency=row.urgency, tz=zone_named(row.tz, config), held_by=row.held_by,
                    manager=climb)


def _escalation_row(row: DueRow, escalate: Escalate) -> dict[str, Any]:
    # counted against whoever held the clock when it ran out (the cover while the AE is away)
    return {"signal_id": row.signal_id, "deadline_id": row.id, "level": escalate.level,
            "ae_id": _holder(row), "to_ids": {"users": list(escalate.target.users)},
            "reason": escalate.target.reason, "due_at": escalate.at}


@dataclass
class _Batch:
    """The rows one sweep batch writes, gathered clock by clock in the claim's order."""

    config: Config
    now: datetime
    taken: Counter[str]
    away: Mapping[str, str | None]
    signals: dict[int, _Signal]
    inserted: set[tuple[int, int]] = field(default_factory=set)  # (deadline, level) decided now
    documents: dict[int, Signal] = field(default_factory=dict)  # whole signals, for webhooks
    clocks: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    out: list[Outgoing] = field(default_factory=list)

    def take(self, row: DueRow, move: Move) -> None:
        """What `move` of the clock in `row` writes and sends."""
        self.clocks.append({"did": row.id, "to_step": move.step, "next_at": move.next_step_at,
                            "missed": bool(move.escalations)})
        signal = self.signals[row.signal_id]
        if move.reminder is not None:
            self.out.append(_reminder(row, signal, move.reminder, self.away))
            self.taken["reminder"] += 1
        for escalate in move.escalations:
            if (row.id, escalate.level) in self.inserted:  # else another sweep decided it
                self._escalate(row, signal, escalate)

    def _escalate(self, row: DueRow, signal: _Signal, escalate: Escalate) -> None:
        now, target, level = self.now, escalate.target, escalate.level
        late = (now - row.due_at).total_seconds()
        self.events.append({
            "signal_id": signal.id,
            "from_stage": signal.stage, "to_stage": signal.stage,
            "detail": {"clock": row.clock, "level": level, "to": list(target.users),
                       "reason": target.reason, "missed_by_s": int(late),
                       **({"held_by": row.held_by, "owner": row.owner_id} if row.held_by
                          else {}),
                       "lateness_s": int((now - escalate.at).total_seconds())}})
        if not target.users:
            log.error("signal %s: SLA missed but no manager or admin to escalate to", signal.id)
        cause = f":esc:{row.id}:{level}"  # the version does not move (module docstring)
        sync = sync_items(self.config, self.documents.get(signal.id, signal), "escalated",
                          {"clock": row.clock, "level": level, "to": list(target.users)},
                          unversioned=cause, at=now)  # CRM, webhooks
        self.out += [*_escalation_messages(row, signal, level, target, late,
                                           _covers(row, self.away)),
                     outgoing.refresh(signal, cause), *sync]  # every card: "missed, escalated"
        self.taken[f"escalation:{level}"] += 1

    def write(self, session: Session) -> None:
        """One statement per kind of row."""
        rows.add_events(session, self.events,
                        {"at": self.now, "actor_id": None, "kind": "escalated"})
        rows.move_clocks(session, self.clocks)
        enqueue(session, self.out, self.now)


def _reminder(row: DueRow, signal: _Signal, index: int, away: Mapping[str, str | None]
              ) -> Outgoing:
    text = REMINDER_TEXT.get(row.clock, "Reminder").format(due=when(row.due_at))
    audience = "csm" if row.clock == "revisit" else "ae"
    if row.held_by and not _covers(row, away):
        audience = "manager"  # no cover: the manager holds it until they reassign
    elif row.held_by:
        text += f" (covering for {mention(row.owner_id)})"
    item = outgoing.card(
        signal,
        audience,
        _holder(row) or signal.csm_id,
        f":alarm_clock: {text}",
        # the deadline in the key: an approved extension re-plans the reminders afresh
        key_suffix=f":remind:{row.id}:{index}:{int(row.due_at.timestamp())}",
    )
    item.guard_deadline_id = row.id
    return item


def _escalation_messages(
    deadline: DueRow,
    signal: _Signal,
    level: int,
    target: Target,
    late_s: float,
    by_cover: bool,
) -> list[Outgoing]:
    users = target.users
    what = CLOCK_NAMES.get(deadline.clock, deadline.clock)
    account = escape(signal.account)
    gap = ESCALATION_NOTES.get(target.reason, "")
    holder = _holder(deadline)
    who = mention(holder)
    if deadline.held_by:  # names both: whoever held it, and the away owner of record
        role = "acting AE" if by_cover else "holding it"
        who += f" ({role} for {mention(deadline.owner_id)}, who is away)"
    headline = (
        f":rotating_light: *Missed SLA* — {who} did not {what} the "
        f"*{account}* hand-off ({signal.urgency.title()}) in time: {duration(late_s)} late."
        f" Escalation level {level}{gap}."
    )
    out = [
        outgoing.card(signal, "manager", user, headline, key_suffix=f":esc:{deadline.id}:{level}")
        for user in users
    ]
    to = ", ".join(mention(u) for u in users) or "nobody (no admins configured)"
    for who, recipient in (("ae", holder), ("csm", signal.csm_id)):
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


def _covers(row: DueRow, away: Mapping[str, str | None]) -> bool:
    """True when the clock's holder is the owner's cover (the acting AE), not their manager."""
    return bool(row.held_by) and final_cover(row.owner_id or "", away) == row.held_by


def _holder(row: DueRow) -> str | None:
    """Who holds the clock: the owner, or while they are away their acting AE / manager."""
    return row.held_by or row.owner_id


ESCALATION_NOTES = {
    "roster_gap": " (no manager on the roster for this AE, so it comes to the admins)",
    "cover": " (you cover for their manager, who is away)",
    "manager_away": " (their manager is away with no cover, so it comes one level up)",
}


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
        reminders = clock_policy(config, deadline.policy).reminders  # as the clock started
        deadline.step = max(deadline.step, len(reminders))  # the first escalation step
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
