"""A click racing the sweep: on PostgreSQL row locks, on SQLite its one writer, taken before
the sweep reads its due clocks.

The sweep writes no `signals` row: an escalation does not move the signal's version. What it
still guarantees against a click on the same signal: a clock whose signal a click holds is
left to the next sweep (`FOR UPDATE SKIP LOCKED`), so nothing is decided on a token the click
is changing; a click on a signal the sweep holds waits for the sweep's commit and then sees
its escalation; the escalation's card refresh and the click's are both queued (distinct keys),
so every card ends up showing both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from service import signals as ops
from service.sweep import sweep
from storage.models import OutboxMessage, Signal, SignalEvent
from storage.queries import signal_for_update
from storage.sweep import claim_due
from tests.conftest import make_services
from tests.flow import act, escalations, log, worker
from tests.people import AE, MGR

START = "2026-11-23 14:00:00"  # a Monday; Hot: acknowledge within 4 h
LATE = "2026-11-23 18:30:00"  # the ack clock missed


@pytest.fixture
def pg_services(pg_url, standin, config) -> Iterator:
    services = make_services(pg_url, standin, config)
    yield services
    services.engine.dispose()


def _version(services, signal_id: int) -> int:
    with services.unit_of_work() as session:
        return session.get(Signal, signal_id).version


def _refreshes(services, signal_id: int) -> list[tuple[str, str]]:
    """(key, status) of the signal's card refreshes, in the order they were queued."""
    with services.unit_of_work() as session:
        return [tuple(row) for row in session.execute(
            select(OutboxMessage.key, OutboxMessage.status).where(
                OutboxMessage.signal_id == signal_id, OutboxMessage.kind == "slack.refresh")
            .order_by(OutboxMessage.id))]


def test_a_clock_whose_signal_a_click_holds_is_left_to_the_next_sweep(pg_services):
    services = pg_services
    with freeze_time(START) as clock:
        sid = log(services)
        clock.move_to(LATE)
        with services.unit_of_work() as click:  # the AE's click, not committed yet
            ops.acknowledge(click, services.config, signal_for_update(click, sid), AE,
                            services.now())
            with services.unit_of_work() as session:
                assert sweep(session, services.config, services.now()) == 0  # skipped
        with services.unit_of_work() as session:  # the click committed: the clock is met
            assert sweep(session, services.config, services.now()) == 0
    assert escalations(services) == []


def test_a_click_waits_for_the_sweep_then_both_refresh_the_cards(pg_services, standin):
    services = pg_services
    with freeze_time(START) as clock:
        sid = log(services)
        worker(services, standin).deliverer.drain()  # the AE's card is in Slack
        before = _version(services, sid)
        clock.move_to(LATE)
        clicked = threading.Event()

        def click() -> None:
            act(services, ops.acknowledge, sid, AE)
            clicked.set()

        with services.unit_of_work() as session:  # the sweep holds the clock and the signal
            assert sweep(session, services.config, services.now()) == 1
            thread = threading.Thread(target=click)
            thread.start()
            assert not clicked.wait(0.5)  # the click waits for the sweep's commit
        thread.join(10)
        assert clicked.is_set()
        worker(services, standin).deliverer.drain()
    assert [e[1] for e in escalations(services)] == [1]
    assert _version(services, sid) == before + 1  # moved by the click alone
    # the escalation's refresh is keyed by clock and level, the click's by the new version
    [(escalated, status), click_refresh] = _refreshes(services, sid)
    assert escalated.startswith(f"refresh:{sid}:{before}:esc:") and escalated.endswith(":1")
    assert status == "sent" and click_refresh == (f"refresh:{sid}:{before + 1}", "sent")
    assert standin.dm_messages(MGR) and standin.duplicates() == []


def test_a_click_after_the_sweep_read_its_due_clocks_waits_for_the_sweep(services):
    """Between reading a due clock and writing its escalation, the sweep decides; a click
    that committed in between would be overwritten by a decision made on what it changed
    (on SQLite, whose `sqlite3` opens a transaction only at the first write, the read
    takes the write lock itself)."""
    with freeze_time(START) as clock:
        sid = log(services)
        clock.move_to(LATE)
        clicked = threading.Event()

        def click() -> None:
            act(services, ops.acknowledge, sid, AE)
            clicked.set()

        with services.unit_of_work() as session:
            assert claim_due(session, services.now(), 500)  # read: the sweep decides now
            thread = threading.Thread(target=click)
            thread.start()
            assert not clicked.wait(0.5)  # the click waits for the sweep's commit
        thread.join(10)
        assert clicked.is_set()


def test_a_click_waits_for_another_click_on_the_same_signal(services):
    """Two clicks at once (a double click, the AE and their cover): the second reads the
    signal after the first committed, so it is refused on what the first changed."""
    with freeze_time(START):
        sid = log(services)
        clicked = threading.Event()
        refused: list[Exception] = []

        def second() -> None:
            try:
                act(services, ops.acknowledge, sid, AE)
            except Exception as exc:  # noqa: BLE001 - the test looks at it
                refused.append(exc)
            clicked.set()

        with services.unit_of_work() as session:
            signal = signal_for_update(session, sid)
            thread = threading.Thread(target=second)
            thread.start()
            assert not clicked.wait(0.5)  # waits for the first click's commit
            ops.acknowledge(session, services.config, signal, AE, services.now())
        thread.join(10)
        assert clicked.is_set() and refused  # already acknowledged: not applied twice
    with services.unit_of_work() as session:
        kinds = session.scalars(select(SignalEvent.kind).where(SignalEvent.signal_id == sid))
        assert list(kinds).count("acknowledged") == 1


def test_each_escalation_refreshes_the_cards_though_the_version_stays(pg_services, standin):
    services = pg_services
    with freeze_time(START) as clock:
        sid = log(services)
        w = worker(services, standin)
        w.deliverer.drain()
        before = _version(services, sid)
        for when in (LATE, "2026-11-23 22:30:00"):  # level 1, then level 2 one window later
            seen = len(standin.calls_to("chat.update"))
            clock.move_to(when)
            w.sweep_once()
            w.deliverer.drain()
            ae_card = [c for c in standin.calls_to("chat.update")[seen:]
                       if c.params["channel"] == standin.dm_channel(AE)]
            assert len(ae_card) == 1 and "missed, escalated" in str(ae_card[0].params["blocks"])
    assert [e[1] for e in escalations(services)] == [1, 2]
    assert _version(services, sid) == before
    assert [status for _, status in _refreshes(services, sid)] == ["sent", "sent"]
