"""Stopping a worker: the attempt in flight finishes, rows claimed but not tried go back at
once (another process takes them now, not after the lease)."""

from __future__ import annotations

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from storage.models import OutboxMessage
from tests.flow import log, worker


@pytest.mark.parametrize("concurrency", [1, 4])
def test_rows_claimed_but_not_tried_are_released_on_stop(services, standin, concurrency):
    with freeze_time("2026-11-23 14:00:00"):
        for _ in range(3):
            log(services)
        stopping = worker(services, standin)
        deliverer = stopping.deliverer
        deliverer.concurrency = concurrency  # side by side, only attempts already begun end
        attempt = deliverer._attempt

        def first_then_stop(row, tally):
            attempt(row, tally)
            deliverer.stopping.set()  # SIGTERM arrives during the first send

        deliverer._attempt = first_then_stop
        tally = deliverer.deliver_due()
        assert tally.sent == 1 if concurrency == 1 else 1 <= tally.sent <= concurrency
        with services.unit_of_work() as session:
            rows = session.scalars(select(OutboxMessage).where(
                OutboxMessage.kind == "slack.post")).all()
        assert [r.status for r in rows].count("sent") <= tally.sent
        waiting = [r for r in rows if r.status != "sent"]
        assert waiting and all(r.status == "pending" and r.claimed_by is None
                               and r.attempts == 0 for r in waiting)
        other = worker(services, standin)  # another process, right away
        other.catch_up()
        with services.unit_of_work() as session:
            statuses = session.scalars(select(OutboxMessage.status).where(
                OutboxMessage.id.in_([r.id for r in rows]))).all()
    assert statuses == ["sent"] * len(rows) and standin.duplicates() == []


def test_the_delivery_loop_stops_cleanly_and_releases_what_it_claimed(services, standin):
    """SIGTERM while conversations are being sent side by side: the calls in flight finish,
    every other claimed row is back to pending at once, unclaimed and untried."""
    import threading

    from bot.delivery import Deliverer, make_client
    from storage.outbox import Outgoing, enqueue

    people = [f"U0STOP{i:04d}" for i in range(10)]
    for user in people:
        standin.add_user(user, user.lower())
    with services.unit_of_work() as session:
        enqueue(session, [Outgoing(key=f"stop:{u}:{n}", kind="slack.post", target=u,
                                   payload={"text": f"{u} {n}"})
                          for n in range(3) for u in people], services.now())
    standin.latency = 0.3
    d = Deliverer(services.factory, services.config, make_client("xoxb-t", standin.base_url),
                  concurrency=4)
    stop, wake = threading.Event(), threading.Event()
    loop = threading.Thread(target=d.serve, args=(wake, stop))
    loop.start()
    for _ in range(200):
        if standin.calls_to("chat.postMessage"):
            break
        threading.Event().wait(0.05)
    d.stopping.set()  # what Worker.stop does on SIGTERM
    stop.set()
    wake.set()
    loop.join(timeout=30)
    assert not loop.is_alive()
    with services.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    sent = [r for r in rows if r.status == "sent"]
    assert sent and len(sent) < len(rows)
    assert all(r.status == "pending" and r.claimed_by is None and r.attempts == 0
               for r in rows if r.status != "sent")
    assert standin.duplicates() == [] and standin.overlaps == []
