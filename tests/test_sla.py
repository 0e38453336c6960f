"""SLA enforcement walked through with freezegun, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from service import signals as ops
from storage.models import Deadline, SignalEvent
from tests.flow import act, escalations, log, outbox_count, stage, texts, worker
from tests.people import ADMIN, AE, AE2, CSM, MGR, VP

START = "2026-11-23 14:00:00"  # a Monday, 09:00 in New York


@pytest.fixture
def run(services, standin):
    """Sweep and deliver, as the worker would on its tick."""
    w = worker(services, standin)

    def tick():
        w.sweep_once()
        return w.deliverer.drain()

    return tick


def test_acknowledged_in_time_is_reminded_once_and_never_escalated(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services)
        run()
        clock.move_to("2026-11-23 16:00:01")  # 50% of the 4 h ack window
        run()
        reminders = [m for m in texts(standin.dm_messages(AE)) if "Reminder: acknowledge" in m]
        assert len(reminders) == 1
        clock.move_to("2026-11-23 17:00:00")
        act(services, ops.acknowledge, sid, AE)
        clock.move_to("2026-11-24 02:00:00")  # past the 90% reminder and the ack deadline
        run()
    assert escalations(services) == []
    assert len([m for m in texts(standin.dm_messages(AE)) if "Reminder: acknowledge" in m]) == 1
    assert standin.dm_messages(MGR) == []


def test_never_acknowledged_escalates_to_the_manager_then_one_level_up(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services)
        run()
        clock.move_to("2026-11-23 18:00:01")
        run()
        assert escalations(services) == [(sid, 1, AE, (MGR,))]
        [dm] = standin.dm_messages(MGR)
        assert "Missed SLA" in str(dm["blocks"]) and f"<@{AE}>" in str(dm["blocks"])
        assert any("escalated" in t for t in texts(standin.dm_messages(AE)))
        assert any("escalated" in t for t in texts(standin.dm_messages(CSM)))
        run()  # running again changes nothing
        assert len(escalations(services)) == 1
        clock.move_to("2026-11-23 22:00:01")  # the manager let it sit one more ack window
        run()
    assert escalations(services) == [(sid, 1, AE, (MGR,)), (sid, 2, AE, (VP,))]
    assert len(standin.dm_messages(VP)) == 1
    assert standin.duplicates() == []


def test_acknowledged_late_stops_further_escalation(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services)
        clock.move_to("2026-11-23 18:30:00")
        run()
        act(services, ops.acknowledge, sid, AE)
        clock.move_to("2026-11-24 03:00:00")
        run()
    assert [e[1] for e in escalations(services)] == [1]
    with services.unit_of_work() as session:
        ack = session.scalars(select(Deadline).where(Deadline.clock == "ack")).one()
    assert ack.state == "met" and ack.met_at > ack.due_at


def test_contacted_late_escalates_the_contact_clock(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services)
        clock.move_to("2026-11-23 15:00:00")
        act(services, ops.acknowledge, sid, AE)
        clock.move_to("2026-11-24 14:00:01")  # 24 h: contact deadline passed
        run()
        clock.move_to("2026-11-24 15:00:00")
        act(services, ops.log_contact, sid, AE)
    [(signal_id, level, owner, to)] = escalations(services)
    assert (signal_id, level, to) == (sid, 1, (MGR,))
    assert "customer contact" in str(standin.dm_messages(MGR)[0]["blocks"])
    assert stage(services, sid) == "contacted"


def test_reassignment_restarts_the_clock_for_the_new_ae(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services)
        clock.move_to("2026-11-23 17:00:00")
        act(services, ops.reassign, sid, AE2, "Territory", MGR)
        clock.move_to("2026-11-23 18:30:00")  # the old AE's deadline passes: nothing happens
        run()
        assert escalations(services) == []
        clock.move_to("2026-11-23 21:00:01")  # the new AE's 4 h window has run out
        run()
    assert escalations(services) == [(sid, 1, AE2, (MGR,))]


def test_an_ae_without_a_manager_escalates_to_the_admins(services, standin, run):
    with freeze_time(START) as clock:
        sid = log(services, ae_id="U0AE00099")
        clock.move_to("2026-11-23 18:00:01")
        run()
    assert escalations(services) == [(sid, 1, "U0AE00099", (ADMIN,))]
    with services.unit_of_work() as session:
        event = session.scalars(select(SignalEvent).where(SignalEvent.kind == "escalated")).one()
    assert event.detail["reason"] == "roster_gap"
    assert "no manager on the roster" in str(standin.dm_messages(ADMIN)[0]["blocks"])


def test_a_deactivated_ae_is_a_miss_at_once(services, standin, run):
    standin.add_user("U0AE00GONE", name="Gone AE", deleted=True)
    services.config.managers["U0AE00GONE"] = MGR
    with freeze_time(START):
        sid = log(services, ae_id="U0AE00GONE")
        run()  # the hand-off DM fails: users.info says deleted
        run()  # the sweep escalates straight away
    assert escalations(services) == [(sid, 1, "U0AE00GONE", (MGR,))]
    assert outbox_count(services, "held:") == 1  # the admins were told once


def test_watch_signals_page_no_one_but_get_a_review_reminder(services, standin, run):
    with freeze_time(START) as clock:
        log(services, urgency="watch")
        clock.move_to("2026-12-01 14:00:00")
        run()
    assert escalations(services) == []
    assert any("due for review" in t for t in texts(standin.dm_messages(AE)))


def test_a_day_of_downtime_catches_up_in_order_skipping_pointless_reminders(services, standin, run):
    with freeze_time(START) as clock:
        log(services)
        run()
        clock.move_to("2026-11-24 20:00:00")  # down 30 h: ack L1, L2 and contact L1, L2 are due
        run()
    assert [(e[1]) for e in escalations(services)] == [1, 2, 1, 2]
    ae_texts = texts(standin.dm_messages(AE))
    assert not any("Reminder" in t for t in ae_texts)
    assert len(standin.dm_messages(MGR)) == 2 and len(standin.dm_messages(VP)) == 2
    assert standin.duplicates() == []
