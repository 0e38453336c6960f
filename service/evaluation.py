"""Evaluate a batch of accounts: record each new firing as a `Trigger`, queue its DM.

A `Trigger` row is unique per account + kind + episode and inserted with ON CONFLICT DO
NOTHING: only the evaluator whose insert made the row (RETURNING) writes the DM, keyed
`trigger:<id>:<user>:<n>` in the outbox, so two replicas never send it twice. Waking a
snoozed or held-back trigger is a compare-and-set on its state, for the same reason. A data
trigger goes to the account's CSM (or the admins), never to an AE.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from blocks.suggestion import risk_note, suggestion
from protocol import readiness
from protocol.config import Config
from protocol.triggers import (
    LIVE,
    SIGNAL_TYPES,
    Firing,
    TriggerState,
    cycle_days,
    evaluate,
    risk_reasons,
)
from service import outgoing
from service.snapshot import REGISTRY, snapshots
from storage.db import insert_for
from storage.models import Account, Trigger
from storage.outbox import Outgoing, enqueue

log = logging.getLogger(__name__)
ACCOUNT_COLUMNS = [getattr(Account, c) for c in ("id", "name", "csm_id", "limits", *REGISTRY)]


def evaluate_accounts(session: Session, config: Config, ids: list[int], now: datetime) -> int:
    """Evaluate the accounts `ids`; record new triggers and queue their DMs; returns DMs."""
    rules, today = config.triggers, now.astimezone(config.timezone).date()
    query = select(*ACCOUNT_COLUMNS).where(Account.id.in_(ids))
    accounts = {a.id: a for a in session.execute(query)}  # plain rows: no ORM identity to build
    known: dict[int, list[Trigger]] = {i: [] for i in ids}
    for row in session.scalars(select(Trigger).where(Trigger.account_id.in_(ids))):
        known[row.account_id].append(row)
    fresh: list[tuple[Account, Firing, str, Any]] = []  # (account, firing, state, score)
    out: list[Outgoing] = []
    for account_id, data in snapshots(session, accounts.values()).items():
        account = accounts[account_id]
        firings = evaluate(data, rules, now, today)
        score = readiness.score(
            data, rules.readiness, today, cycle_days(data, rules), rules.projection_cycles
        )
        risk = risk_reasons(data, rules)
        rows = known[account_id]
        out += _settle(session, config, account, rows, firings, score, risk, now)
        for firing in _new(rows, firings, risk):
            state = TriggerState.SUPPRESSED if risk else TriggerState.OPEN
            fresh.append((account, firing, state, score))
        noted = any(r.kind == "at_risk" and r.state == TriggerState.OPEN for r in rows)
        if risk and firings and not noted:
            note = Firing(
                "at_risk",
                None,
                today.isoformat(),
                "watch",
                risk_note(account.name, risk, firings[0].detail),
                firings[0].detail,
            )
            fresh.append((account, note, TriggerState.OPEN, score))
    out += _insert(session, config, fresh, now)
    enqueue(session, out, now)
    return len(out)


def _new(rows: list[Trigger], firings: list[Firing], risk: list[str]) -> list[Firing]:
    """Firings with no row yet, and no live trigger of the same kind and subject (a moved
    renewal date is a new renewal, though)."""
    episodes = {(r.kind, r.episode) for r in rows}
    states = (*LIVE, TriggerState.SUPPRESSED) if risk else LIVE
    live = {(r.kind, r.subject) for r in rows if r.state in states and r.kind != "renewal_window"}
    return [
        f
        for f in firings
        if (f.kind, f.episode) not in episodes and (f.kind, f.subject) not in live
    ]


def _settle(
    session: Session,
    config: Config,
    account: Account,
    rows: list[Trigger],
    firings: list[Firing],
    score,
    risk: list[str],
    now: datetime,
) -> list[Outgoing]:
    """Wake snoozed/suppressed triggers that still hold, close the ones that no longer do."""
    holding = {(f.kind, f.episode): f for f in firings}
    out: list[Outgoing] = []
    for row in rows:
        firing = holding.get((row.kind, row.episode))
        woken = row.state == TriggerState.SNOOZED and row.snoozed_until <= now
        due = row.state == TriggerState.SUPPRESSED or woken
        if row.kind == "at_risk" and row.state == TriggerState.OPEN and not risk:
            _set_state(session, row, TriggerState.OPEN, TriggerState.CLOSED, now)
        elif due and firing is None and (row.state == TriggerState.SNOOZED or not risk):
            _set_state(session, row, row.state, TriggerState.CLOSED, now)  # it no longer holds
        elif due and firing is not None and not risk:
            notified = _set_state(session, row, row.state, TriggerState.OPEN, now, (firing, score))
            if notified is not None:
                out += _messages(config, account, row.id, firing, score, notified)
    return out


def _set_state(
    session: Session,
    row: Trigger,
    old: str,
    new: str,
    now: datetime,
    fresh: tuple[Firing, Any] | None = None,
) -> int | None:
    """Compare-and-set the state; the new `notified` count when this call won, else None."""
    values: dict[str, Any] = {"state": new, "updated_at": now, "snoozed_until": None}
    if fresh is not None:
        values.update(notified=Trigger.notified + 1, evidence=_evidence(*fresh))
    stmt = update(Trigger).where(Trigger.id == row.id, Trigger.state == old).values(**values)
    return session.execute(stmt.returning(Trigger.notified)).scalar()


def _insert(session: Session, config: Config, fresh: list, now: datetime) -> list[Outgoing]:
    if not fresh:
        return []
    rows = [
        {
            "account_id": a.id,
            "kind": f.kind,
            "subject": f.subject,
            "episode": f.episode,
            "state": state,
            "urgency": f.urgency,
            "evidence": _evidence(f, score),
            "recipients": {"users": _recipients(a, config)},
            "notified": int(state == TriggerState.OPEN),
            "fired_at": now,
            "updated_at": now,
        }
        for a, f, state, score in fresh
    ]
    table = Trigger.__table__
    statement = (
        insert_for(session, table)
        .on_conflict_do_nothing()
        .returning(table.c.id, table.c.account_id, table.c.kind, table.c.episode)
    )
    made = session.connection().execute(statement, rows).all()  # only the rows we created
    ours = {(r.account_id, r.kind, r.episode): r.id for r in made}
    out: list[Outgoing] = []
    for account, firing, state, score in fresh:
        trigger_id = ours.get((account.id, firing.kind, firing.episode))
        if trigger_id is not None and state == TriggerState.OPEN:
            out += _messages(config, account, trigger_id, firing, score, 1)
    return out


def _evidence(firing: Firing, score) -> dict[str, Any]:
    evidence = {
        "text": firing.text,
        "detail": firing.detail,
        "figures": firing.figures,
        "signal_type": SIGNAL_TYPES.get(firing.kind),
    }
    if score is not None:
        evidence["readiness"] = score.as_dict()
    return evidence


def _recipients(account: Account, config: Config) -> list[str]:
    return [account.csm_id] if account.csm_id else list(config.admins)


def _messages(
    config: Config, account: Account, trigger_id: int, firing: Firing, score, notified: int
) -> list[Outgoing]:
    users = _recipients(account, config)
    if not users:
        log.warning("trigger %s on %s: no CSM and no admins to tell", trigger_id, account.name)
    if firing.kind == "at_risk":
        return [
            outgoing.notice(f"trigger:{trigger_id}:{u}:{notified}", u, firing.text) for u in users
        ]
    text, blocks = suggestion(
        trigger_id,
        account.name,
        firing.kind,
        firing.urgency,
        firing.text,
        score,
        snooze_days=config.triggers.snooze.days,
        windows=config.sla,
        csm_id=account.csm_id,
    )
    return [
        Outgoing(
            key=f"trigger:{trigger_id}:{u}:{notified}",
            kind="slack.post",
            target=u,
            payload={"text": text, "blocks": blocks},
        )
        for u in users
    ]
