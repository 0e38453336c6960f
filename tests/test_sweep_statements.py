"""A sweep batch sends a fixed number of SQL statements, whatever it holds (issue 16).

Counted with SQLAlchemy's `before_cursor_execute` (an executemany is one statement, as it is
one round trip). Counts are deterministic; no timing here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update

from protocol.config import Webhook
from service import capture
from service.sweep import owner_unreachable, sweep
from storage.models import Deadline, Escalation, OutboxMessage, Signal, SignalEvent
from tests.conftest import make_services
from tests.flow import draft
from tests.people import AE, AE2, CSM, roster_config

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday
STRANGER = "U0AE00099"  # an AE nobody manages: a roster gap, the admins hear of it
HOUR = timedelta(hours=1)

# What each due clock of a batch is, cycling: (name, urgency, AE, started before NOW).
# Hot: acknowledge in 4 h (reminders at 50% and 90%), level 2 one more window later.
KINDS = [
    ("reminder", "hot", AE, 2.5 * HOUR),
    ("escalation level 1", "hot", AE, 4 * HOUR + timedelta(minutes=1)),
    ("levels 1 and 2 at once", "hot", AE, 8 * HOUR + timedelta(minutes=1)),
    ("level 2, level 1 decided before", "hot", AE, 8 * HOUR + timedelta(minutes=2)),
    ("ack levels 1 and 2, contact reminder", "hot", AE, 13 * HOUR),
    ("roster gap", "hot", STRANGER, 4 * HOUR + timedelta(minutes=1)),
    ("owner unreachable", "hot", AE2, 1 * HOUR),
    ("voided by a newer token", "hot", AE, 2.5 * HOUR),
    ("watch review", "watch", None, timedelta(days=7, minutes=1)),
]


class Statements:
    """Counts what an engine sends while it is listening."""

    def __init__(self, engine):
        self.engine, self.sent = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, _parameters, _context, _many) -> None:
        self.sent.append(" ".join(statement.split()[:3]))


def _log(services, kind: tuple, index: int) -> int:
    name, urgency, ae, before = kind
    with services.unit_of_work() as session:
        logged = capture.log_signal(session, services.config,
                                    draft(account=f"Account {index}", urgency=urgency, ae_id=ae),
                                    CSM, NOW - before)
        return logged.signal.id


def _batch(services, count: int) -> int:
    """Log `count` signals, cycling through KINDS, so that each has a clock due at NOW."""
    kinds = [KINDS[i % len(KINDS)] for i in range(count)]
    first = [i for i, kind in enumerate(kinds) if kind[0].startswith("level 2")]
    for i in first:
        _log(services, kinds[i], i)
    with services.unit_of_work() as session:  # their level 1 was decided 4 h ago
        sweep(session, services.config, NOW - 4 * HOUR + timedelta(minutes=3))
    ids: dict[str, list[int]] = {}
    for i, kind in enumerate(kinds):
        if i not in first:
            ids.setdefault(kind[0], []).append(_log(services, kind, i))
    with services.unit_of_work() as session:
        voided = ids.get("voided by a newer token", [])
        session.execute(update(Signal).where(Signal.id.in_(voided))
                        .values(token=Signal.token + 1))
        if "owner unreachable" in ids:
            owner_unreachable(session, services.config, AE2, NOW, "user_not_found")
    with services.unit_of_work() as session:
        return session.scalar(select(func.count()).where(Deadline.next_step_at <= NOW))


def _sweep_counted(services) -> tuple[int, list[str], Counter]:
    steps: Counter[str] = Counter()
    with Statements(services.engine) as seen, services.unit_of_work() as session:
        handled = sweep(session, services.config, NOW, limit=500, steps=steps)
    return handled, [s for s in seen.sent if not s.startswith(("BEGIN", "COMMIT"))], steps


@pytest.mark.parametrize("count", [10, 300])
def test_a_batch_sends_the_same_few_statements_whatever_it_holds(services, count):
    due = _batch(services, count)
    handled, sent, steps = _sweep_counted(services)
    assert handled == due >= count
    assert steps["reminder"] and steps["escalation:1"] and steps["escalation:2"]
    with services.unit_of_work() as session:
        reasons = set(session.scalars(select(Escalation.reason)))
        unreachable = session.scalar(select(func.count()).where(
            SignalEvent.kind == "ae_unreachable"))
    assert {"manager", "manager_of_manager", "roster_gap"} <= reasons and unreachable
    # 3 reads (clocks with their signals, the roster, past escalations), 4 writes
    # (escalations, events, clocks, outbox rows): one of each kind; no signal is written.
    assert sent == [
        "SELECT deadlines.id, deadlines.clock,",
        "SELECT people.slack_id, people.manager_id",
        "SELECT escalations.deadline_id, escalations.level",
        "INSERT INTO escalations",
        "INSERT INTO signal_events",
        "UPDATE deadlines SET",
        "INSERT INTO outbox",
    ]


@pytest.mark.parametrize("count", [10, 300])
def test_with_webhooks_one_more_statement_loads_the_signals_they_post(db_url, count):
    hooks = (Webhook(url="https://hooks.example.com/in", secret_env="HOOK_SECRET"),)
    services = make_services(db_url, None, roster_config(webhooks=hooks))
    try:
        due = _batch(services, count)
        handled, sent, steps = _sweep_counted(services)
        with services.unit_of_work() as session:
            bodies = session.scalars(select(OutboxMessage.payload).where(
                OutboxMessage.kind == "webhook", OutboxMessage.created_at == NOW)).all()
    finally:
        services.engine.dispose()
    assert handled == due and len(sent) == 8 and sent[4] == "SELECT signals.id, signals.account_id,"
    # one post per escalation, levels 1 and 2 of one clock at once included (keyed by clock
    # and level: the version does not move), each saying when it happened
    assert len(bodies) == steps["escalation:1"] + steps["escalation:2"]
    assert len({b["body"]["id"] for b in bodies}) == len(bodies)
    assert {b["body"]["occurred_at"] for b in bodies} == {NOW.isoformat()}


def test_a_sweep_with_nothing_due_sends_one_statement(services):
    _log(services, ("just handed off", "hot", AE, timedelta(0)), 0)
    handled, sent, _ = _sweep_counted(services)
    assert handled == 0 and sent == ["SELECT deadlines.id, deadlines.clock,"]


def test_a_batch_reads_each_policy_snapshot_once(services, monkeypatch):
    from service import sweep as sweeping

    read, real = [], sweeping.clock_policy

    def counted(config, snapshot):
        read.append(snapshot)
        return real(config, snapshot)

    monkeypatch.setattr(sweeping, "clock_policy", counted)
    due = _batch(services, 30)
    read.clear()
    handled, _, steps = _sweep_counted(services)
    assert handled == due >= 30 and steps["escalation:1"]
    assert len(read) == 1 and read[0]["name"] == "default"  # every clock kept the same one
