"""Product data in, suggestions out: evaluation, dedupe, snooze, at-risk guard, replicas."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.services import Services
from service import trigger_actions
from service.ingest import ingest
from service.triggers import claim, evaluate_accounts, periodic, trigger_digest
from storage.models import Account, OutboxMessage, Trigger, TriggerQueue
from tests.conftest import make_services
from tests.flow import log, worker
from tests.people import ADMIN, AE, CSM

GLOBEX = {
    "account": "0015g00000Globex",
    "type": "account",
    "name": "Globex Corp",
    "csm": CSM,
    "ae": AE,
    "seats": 50,
    "contract_start": "2025-06-01",
    "renewal_date": "2027-09-01",
    "health": 82,
    "feature_adoption": 0.78,
    "open_support": "P3",
}


def cycles(values, account="Globex Corp", metric="api_calls", ends=None):
    ends = ends or ["2026-08-31", "2026-09-30", "2026-10-31"][-len(values) :]
    return [
        {
            "account": account,
            "type": "usage",
            "metric": metric,
            "value": v,
            "limit": 100_000,
            "period_end": end,
        }
        for v, end in zip(values, ends, strict=True)
    ]


def feed(services: Services, *events) -> dict:
    with services.unit_of_work() as session:
        return ingest(session, services.config.triggers, list(events), services.now()).as_dict()


def triggers(services: Services) -> list[tuple[str, str, str]]:
    with services.unit_of_work() as session:
        rows = session.scalars(select(Trigger).order_by(Trigger.id))
        return [(t.kind, t.state, t.episode) for t in rows]


def trigger_dms(services: Services) -> list[tuple[str, str]]:
    with services.unit_of_work() as session:
        rows = session.execute(
            select(OutboxMessage.key, OutboxMessage.target)
            .where(OutboxMessage.key.like("trigger:%"))
            .order_by(OutboxMessage.id)
        )
        return [tuple(r) for r in rows]


@freeze_time("2026-11-05 15:00:00")
def test_a_ceiling_puts_one_suggestion_in_front_of_the_csm(services, standin):
    assert feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))["accepted"] == 4
    assert triggers(services) == []  # nothing is evaluated in the request
    assert periodic(services) == 1
    assert triggers(services) == [("usage_ceiling", "open", "api_calls:2026-08-31")]
    [(key, target)] = trigger_dms(services)
    assert target == CSM and key.endswith(f":{CSM}:1")
    tally = worker(services, standin).deliverer.drain()
    assert tally.held == 0 and not standin.rejections  # Block Kit validated by the stand-in
    [dm] = standin.dm_messages(CSM)
    assert "Suggested expansion signal — Globex Corp" in str(dm["blocks"])
    assert "reaches the limit around 23 December" in str(dm["blocks"])
    assert "Readiness 55/100 (watch monthly; 20 points unknown)" in str(dm["blocks"])
    assert standin.dm_messages(AE) == []  # a data trigger never hands anything to an AE
    # the same episode does not fire again: no new data, then a new cycle still above 70%
    assert periodic(services) == 0
    feed(services, *cycles([90_000], ends=["2026-11-30"]))
    assert periodic(services) == 1
    assert len(trigger_dms(services)) == 1 and len(triggers(services)) == 1


@freeze_time("2026-11-05 15:00:00")
def test_an_account_with_no_csm_goes_to_the_admins(services):
    feed(services, {**GLOBEX, "csm": ""}, *cycles([70_000, 77_000, 84_700]))
    periodic(services)
    assert [target for _, target in trigger_dms(services)] == [ADMIN]


@freeze_time("2026-11-05 15:00:00")
def test_an_at_risk_account_gets_a_risk_note_once_and_no_suggestion(services, standin):
    feed(services, {**GLOBEX, "health": 62}, *cycles([70_000, 77_000, 84_700]))
    periodic(services)
    assert triggers(services) == [
        ("usage_ceiling", "suppressed", "api_calls:2026-08-31"),
        ("at_risk", "open", "2026-11-05"),
    ]
    feed(
        services,
        *cycles([90_000], ends=["2026-11-30"]),
        {**GLOBEX, "open_support": "P1", "health": 62},
    )
    periodic(services)
    worker(services, standin).deliverer.drain()
    [note] = standin.dm_messages(CSM)
    assert "at risk: health 62" in note["text"] and "Suggested" not in note["text"]
    # health recovers: the held-back trigger is now suggested, once
    feed(services, {**GLOBEX, "health": 85, "open_support": "none"})
    periodic(services)
    assert triggers(services) == [
        ("usage_ceiling", "open", "api_calls:2026-08-31"),
        ("at_risk", "closed", "2026-11-05"),
    ]
    worker(services, standin).deliverer.drain()
    assert len(standin.dm_messages(CSM)) == 2
    assert "Suggested expansion signal" in str(standin.dm_messages(CSM)[-1]["blocks"])


def test_snooze_brings_it_back_after_30_days_if_it_still_holds(services):
    with freeze_time("2026-11-05 15:00:00") as clock:
        feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
        periodic(services)
        with services.unit_of_work() as session:
            [trigger] = session.scalars(select(Trigger))
            trigger_actions.snooze(session, services.config, trigger.id, CSM, services.now())
        clock.tick(timedelta(days=29))
        feed(services, *cycles([88_000], ends=["2026-11-30"]))
        periodic(services)
        assert triggers(services)[0][1] == "snoozed" and len(trigger_dms(services)) == 1
        clock.tick(timedelta(days=1, seconds=1))
        periodic(services)  # no new data: the snooze running out queues the account
        assert triggers(services)[0][1] == "open"
        assert [key.rsplit(":", 1)[1] for key, _ in trigger_dms(services)] == ["1", "2"]


def test_a_dismissed_trigger_does_not_come_back(services):
    with freeze_time("2026-11-05 15:00:00"):
        feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
        periodic(services)
        with services.unit_of_work() as session:
            [trigger] = session.scalars(select(Trigger))
            trigger_actions.dismiss(
                session, services.config, trigger.id, CSM, "seasonal", services.now()
            )
        feed(services, *cycles([95_000], ends=["2026-11-30"]))
        periodic(services)
    assert triggers(services) == [("usage_ceiling", "dismissed", "api_calls:2026-08-31")]
    assert len(trigger_dms(services)) == 1


def test_a_renewal_window_opens_without_new_data(services):
    with freeze_time("2026-11-05 15:00:00") as clock:
        feed(services, {**GLOBEX, "renewal_date": "2027-02-05"})  # 92 days away
        periodic(services)
        assert triggers(services) == []
        clock.tick(timedelta(days=2))  # 90 days away
        periodic(services)
        assert triggers(services) == [("renewal_window", "open", "2027-02-05")]
        clock.tick(timedelta(days=1))
        assert periodic(services) == 0  # once per renewal


@freeze_time("2026-11-05 15:00:00")
def test_evaluation_is_incremental(services):
    feed(services, GLOBEX, {**GLOBEX, "account": "0015g00000Initech", "name": "Initech"})
    periodic(services)
    feed(services, *cycles([10_000, 11_000], account="Initech"))
    with services.unit_of_work() as session:
        queued = session.scalars(select(TriggerQueue.account_id)).all()
        initech = session.scalar(select(Account.id).where(Account.name == "Initech"))
    assert queued == [initech]
    assert periodic(services) == 1


@freeze_time("2026-11-05 15:00:00")
def test_the_worker_evaluates_with_its_sweep(services, standin):
    feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
    worker(services, standin).sweep_once()
    assert len(triggers(services)) == 1


@pytest.mark.postgres
def test_two_evaluators_on_postgres_send_each_suggestion_once(pg_url, standin, config):
    replicas = [
        Services.build(make_services(pg_url, standin, config).settings, config) for _ in range(2)
    ]
    with freeze_time("2026-11-05 15:00:00") as clock:
        accounts = []
        for n in range(20):
            name = f"Account {n}"
            feed(
                replicas[0],
                {**GLOBEX, "account": f"crm-{n}", "name": name},
                *cycles([70_000, 77_000, 84_700], account=name),
                {"account": name, "type": "active_users", "value": 49, "seats": 50},
            )
            accounts.append(name)
        feed(
            replicas[1],
            *[{"account": a, "type": "gated_feature", "feature": "sso"} for a in accounts],
        )  # a second queue row for every account
        with replicas[0].unit_of_work() as session:
            ids = session.scalars(select(Account.id)).all()
        barrier, errors = threading.Barrier(4), []

        def go(replica, direct):
            try:
                barrier.wait()
                if direct:  # both evaluate the very same accounts at once
                    with replica.unit_of_work() as session:
                        evaluate_accounts(session, replica.config, ids, replica.now())
                periodic(replica)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=go, args=(r, d)) for r in replicas for d in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(triggers(replicas[0])) == 40  # ceiling + seats, per account
        assert len(trigger_dms(replicas[0])) == 40
        workers = [worker(r, standin) for r in replicas]
        for _ in range(40):  # pacing lets ~1 message a second into one conversation
            clock.tick(3)
            for w in workers:
                w.deliverer.drain()
    assert len(standin.dm_messages(CSM)) == 40
    assert standin.duplicates() == []
    for r in replicas:
        r.engine.dispose()


def test_trigger_digest_counts_the_week(services):
    with freeze_time("2026-11-05 15:00:00") as clock:
        start = datetime(2026, 11, 2, 5, tzinfo=UTC)
        feed(
            services,
            GLOBEX,
            *cycles([70_000, 77_000, 84_700]),
            {"account": "Globex Corp", "type": "active_users", "value": 49},
        )
        periodic(services)
        with services.unit_of_work() as session:
            ceiling, seats = session.scalars(select(Trigger).order_by(Trigger.id))
            trigger_actions.dismiss(
                session, services.config, seats.id, CSM, "seasonal peak", services.now()
            )
            ceiling_id = ceiling.id
        log(services, source=f"trigger:{ceiling_id}")
        clock.tick(timedelta(days=1))
        with services.unit_of_work() as session:
            figures = trigger_digest(session, start, start + timedelta(days=7), services.now())
            assert session.get(Trigger, ceiling_id).state == "acted"
            assert session.scalar(select(func.count()).select_from(TriggerQueue)) == 0
    assert figures["fired"] == {"usage_ceiling": 1, "seat_capacity": 1}
    assert figures["fired_total"] == 2
    assert figures["acted"] == 1 and figures["dismissed"] == 1 and figures["open"] == 0
    assert figures["signals_from_triggers"] == 1
    assert figures["dismiss_reasons"] == [{"reason": "seasonal peak", "count": 1}]
    assert figures["events_received"] == 4  # an account event without an id is not stored
    assert figures["held_back"] == 0 and figures["won_arr"] is None
    assert figures["last_event_at"].tzinfo is not None  # a datetime, not a string to parse


def test_a_new_episode_while_snoozed_fires_when_the_snooze_ends(services):
    with freeze_time("2026-11-05 15:00:00") as clock:
        feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
        periodic(services)
        with services.unit_of_work() as session:
            [trigger] = session.scalars(select(Trigger))
            trigger_actions.snooze(session, services.config, trigger.id, CSM, services.now())
        ends = ["2026-11-30", "2026-12-31", "2027-01-31"]
        feed(services, *cycles([50_000, 80_000, 90_000], ends=ends))  # a dip, then a new run
        periodic(services)
        assert [t[1] for t in triggers(services)] == ["snoozed"]
        clock.tick(timedelta(days=31))
        periodic(services)
    assert triggers(services) == [
        ("usage_ceiling", "closed", "api_calls:2026-08-31"),
        ("usage_ceiling", "open", "api_calls:2026-12-31"),
    ]
    assert len(trigger_dms(services)) == 2


def test_a_moved_renewal_date_is_a_new_renewal(services):
    with freeze_time("2026-11-05 15:00:00"):
        feed(services, {**GLOBEX, "renewal_date": "2027-01-20"})
        periodic(services)
        feed(services, {**GLOBEX, "renewal_date": "2027-01-25"})
        periodic(services)
        assert [t[2] for t in triggers(services)] == ["2027-01-20", "2027-01-25"]
        assert periodic(services) == 0  # nothing left to requeue


def test_two_workers_claiming_the_queue_at_once_never_take_the_same_account(services):
    """One claim holds its accounts (uncommitted) while another runs: the other gets none of
    them (PostgreSQL skips the locked rows; on SQLite the read waits for the write lock)."""
    now = datetime(2026, 11, 23, 14, tzinfo=UTC)
    with services.unit_of_work() as session:
        accounts = [Account(name=f"Queued {n}", name_key=f"queued {n}", created_at=now)
                    for n in range(5)]
        session.add_all(accounts)
        session.flush()
        session.add_all(TriggerQueue(account_id=a.id, queued_at=now) for a in accounts)
    other: list[int] = []
    with services.unit_of_work() as session:
        mine = claim(session, 500)
        thread = threading.Thread(target=lambda: other.extend(_claim_once(services)))
        thread.start()
        thread.join(0.3)  # the other claim runs meanwhile (or waits)
    thread.join(10)
    assert len(mine) == 5 and not set(mine) & set(other)


def _claim_once(services) -> list[int]:
    with services.unit_of_work() as session:
        return claim(session, 500)
