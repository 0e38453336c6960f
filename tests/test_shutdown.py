"""Stopping a worker: the attempt in flight finishes, rows claimed but not tried go back at
once (another process takes them now, not after the lease)."""

from __future__ import annotations

from freezegun import freeze_time
from sqlalchemy import select

from storage.models import OutboxMessage
from tests.flow import log, worker


def test_rows_claimed_but_not_tried_are_released_on_stop(services, standin):
    with freeze_time("2026-11-23 14:00:00"):
        for _ in range(3):
            log(services)
        stopping = worker(services, standin)
        deliverer = stopping.deliverer
        attempt = deliverer._attempt

        def first_then_stop(row, tally):
            attempt(row, tally)
            deliverer.stopping.set()  # SIGTERM arrives during the first send

        deliverer._attempt = first_then_stop
        tally = deliverer.deliver_due()
        assert tally.sent == 1
        with services.unit_of_work() as session:
            rows = session.scalars(select(OutboxMessage).where(
                OutboxMessage.kind == "slack.post")).all()
        assert sorted(r.status for r in rows).count("sent") == 1
        waiting = [r for r in rows if r.status != "sent"]
        assert waiting and all(r.status == "pending" and r.claimed_by is None
                               and r.attempts == 0 for r in waiting)
        other = worker(services, standin)  # another process, right away
        other.catch_up()
        with services.unit_of_work() as session:
            statuses = session.scalars(select(OutboxMessage.status).where(
                OutboxMessage.id.in_([r.id for r in rows]))).all()
    assert statuses == ["sent"] * len(rows) and standin.duplicates() == []
