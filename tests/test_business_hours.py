"""Business-hours SLA clocks: each AE's own time zone, weekends and holidays skipped."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from zoneinfo import ZoneInfo

from freezegun import freeze_time
from sqlalchemy import select

from protocol.calendar import BusinessHours
from storage.models import Deadline, Person
from tests.conftest import make_services
from tests.flow import escalations, log, worker
from tests.people import AE, AE2, roster_config

SYDNEY, NEW_YORK = ZoneInfo("Australia/Sydney"), ZoneInfo("America/New_York")


def local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M")


def setup(db_url, standin, holidays=frozenset()):
    config = roster_config(business_hours=BusinessHours(enabled=True, holidays=holidays))
    services = make_services(db_url, standin, config)
    with services.unit_of_work() as session:
        session.add_all(
            [
                Person(slack_id=AE, tz="America/New_York", deactivated=False),
                Person(slack_id=AE2, tz="Australia/Sydney", deactivated=False),
            ]
        )
    return services


def ack_due(services, ae: str) -> datetime:
    with services.unit_of_work() as session:
        return session.scalars(
            select(Deadline.due_at).where(Deadline.owner_id == ae, Deadline.clock == "ack")
        ).one()


# Friday 27 Nov 2026, 16:55 in Sydney = 05:55 UTC = 00:55 in New York
FRIDAY_EVENING_SYDNEY = "2026-11-27 05:55:00"


def test_a_hot_signal_at_friday_close_is_due_next_working_morning(db_url, standin):
    services = setup(db_url, standin)
    with freeze_time(FRIDAY_EVENING_SYDNEY):
        log(services, ae_id=AE2)
        log(services, ae_id=AE, account="Initech")
    assert local(ack_due(services, AE2), SYDNEY) == "Mon 2026-11-30 12:55"
    # New York: 00:55 Friday, before opening: 4 working hours from 09:00
    assert local(ack_due(services, AE), NEW_YORK) == "Fri 2026-11-27 13:00"


def test_a_holiday_pushes_the_deadline_a_day(db_url, standin):
    services = setup(db_url, standin, holidays=frozenset({date(2026, 11, 30)}))
    with freeze_time(FRIDAY_EVENING_SYDNEY):
        log(services, ae_id=AE2)
    assert local(ack_due(services, AE2), SYDNEY) == "Tue 2026-12-01 12:55"


def test_nothing_escalates_over_the_weekend(db_url, standin):
    services = setup(db_url, standin)
    w = worker(services, standin)
    with freeze_time(FRIDAY_EVENING_SYDNEY) as clock:
        sid = log(services, ae_id=AE2)
        clock.move_to("2026-11-29 12:00:00")  # Sunday night in Sydney
        w.sweep_once()
        assert escalations(services) == []
        clock.move_to("2026-11-30 02:00:00")  # Monday 13:00 in Sydney
        w.sweep_once()
    assert [e[:2] for e in escalations(services)] == [(sid, 1)]


def test_calendar_time_is_the_default(db_url, standin):
    config = roster_config()
    assert not config.business_hours.enabled
    services = make_services(db_url, standin, dataclasses.replace(config))
    with freeze_time(FRIDAY_EVENING_SYDNEY):
        log(services, ae_id=AE2)
    assert ack_due(services, AE2).isoformat() == "2026-11-27T09:55:00+00:00"
