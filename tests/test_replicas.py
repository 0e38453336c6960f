"""Several processes on one PostgreSQL: every escalation decided once, delivered once."""

from __future__ import annotations

import threading

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.services import Services
from storage.models import Escalation, OutboxMessage
from tests.conftest import make_services
from tests.flow import log, worker
from tests.people import MGR

pytestmark = pytest.mark.postgres
N = 40


def _replica(pg_url, standin, config) -> Services:
    services = Services.build(make_services(pg_url, standin, config).settings, config)
    return services


def test_two_sweepers_and_two_deliverers_escalate_each_miss_exactly_once(pg_url, standin, config):
    replicas = [_replica(pg_url, standin, config) for _ in range(2)]
    with freeze_time("2026-11-23 14:00:00") as clock:
        for _ in range(N):
            log(replicas[0])
        clock.move_to("2026-11-23 18:00:01")  # every ack deadline has passed
        workers = [worker(r, standin) for r in replicas]
        barrier = threading.Barrier(len(workers))
        errors: list[BaseException] = []

        def go(w):
            try:
                barrier.wait()
                for _ in range(3):
                    w.sweep_once()
                    w.deliverer.drain()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=go, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for _ in range(60):  # pacing lets ~1 message a second into each conversation
            clock.tick(3)
            for w in workers:
                w.deliverer.drain()
    assert errors == []
    with replicas[0].unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Escalation)) == N
        keys = session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.key.like("card:%:manager:%"))
        ).all()
        assert len(keys) == N
        assert (
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status != "sent")
            )
            == 0
        )
    assert len(standin.dm_messages(MGR)) == N
    assert standin.duplicates() == []
    for r in replicas:
        r.engine.dispose()
