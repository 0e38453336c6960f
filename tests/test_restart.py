"""A process that dies after deciding, or right after acking, loses nothing."""

from __future__ import annotations

from freezegun import freeze_time

from tests.conftest import make_services
from tests.flow import escalations, log, worker
from tests.people import AE, MGR, SECRET
from tests.support import SlackDriver


def test_escalation_decided_then_crash_is_delivered_after_restart(services, standin):
    with freeze_time("2026-11-23 14:00:00") as clock:
        sid = log(services)
        clock.move_to("2026-11-23 18:00:01")
        worker(services, standin).sweep_once()  # decided and committed ... then the process dies
        assert standin.dm_messages(MGR) == []
        restarted = worker(services, standin)
        restarted.catch_up()
        restarted.catch_up()
    assert escalations(services) == [(sid, 1, AE, (MGR,))]
    assert len(standin.dm_messages(MGR)) == 1


def test_a_submission_acked_just_before_the_process_died_still_reaches_the_ae(
    sqlite_url, standin, config
):
    first = make_services(sqlite_url, standin, config)
    driver = SlackDriver.start(first, standin, SECRET)
    assert driver.log_signal().status_code == 200
    driver.stop()  # killed: nothing was delivered
    first.engine.dispose()
    assert standin.dm_messages(AE) == []
    second = make_services(sqlite_url, standin, config)
    worker(second, standin).catch_up()
    assert len(standin.dm_messages(AE)) == 1
    second.engine.dispose()
