"""Delivery's cost as a count, not a timing (issue 16): a claim of Slack posts is rendered
with the same statements whatever it holds, and a sent post is recorded with two.

Driven the way Slack would: signed submissions into Bolt queue the cards, the worker's
deliverer claims and sends them to the stand-in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select, update

from storage.models import Card, OutboxMessage
from tests.handlers.test_ack_cost import _submit, _warm, counting
from tests.support import wait_for

# A sent post: the fenced update of its outbox row, and its card row (a card is updated in
# place later). Nothing is read back.
PER_POST = 2


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def driver(request):
    return request.getfixturevalue("slack" if request.param == "sqlite" else "pg_slack")


def _claim_and_send(driver, submissions: int, prefix: str) -> tuple[list[str], list[str], int]:
    """Queue `submissions` signals' cards; the statements of their claim, of sending them,
    and how many posts were sent."""
    view = driver.open_signal_modal("U0CSM0001")
    for index in range(submissions):
        _submit(driver, view, f"{prefix}{index:06d}")
    deliverer = driver.worker.deliverer
    _no_pace(deliverer)
    engine = driver.services.engine
    with counting(engine) as claim:
        lanes = deliverer.claim(100)
    sent = 0
    with counting(engine) as send:
        for lane in lanes:
            sent += deliverer.run_lane(lane).sent
    return claim, send, sent


def test_a_claim_of_posts_is_read_with_the_same_statements_whatever_it_holds(driver):
    _warm(driver)
    driver.deliver()
    small, _, sent_small = _claim_and_send(driver, 1, "VSMALL")
    large, _, sent_large = _claim_and_send(driver, 8, "VLARGE")
    assert (sent_small, sent_large) == (2, 16)  # each signal's AE card and CSM card
    assert len(large) == len(small), "\n".join(large)


def test_a_sent_post_is_recorded_with_two_statements(driver):
    _warm(driver)
    driver.deliver()
    _, send, sent = _claim_and_send(driver, 3, "VSEND")
    assert sent == 6
    assert len(send) == PER_POST * sent, "\n".join(send)
    assert not any(s.startswith("SELECT") for s in send), "\n".join(send)


def test_the_serving_loop_records_its_posts_together(driver):
    """While serving, posts Slack confirmed are recorded a batch at a time: far fewer
    transactions than posts, each post recorded once, every card kept."""
    _warm(driver)
    driver.deliver()
    view = driver.open_signal_modal("U0CSM0001")
    for index in range(8):
        _submit(driver, view, f"VBATCH{index:04d}")
    deliverer = driver.worker.deliverer
    _no_pace(deliverer)
    before = _counts(driver)
    commits = _serve_until(driver, deliverer, before[0] + 16, ("serving", "deliver"))
    assert _counts(driver) == (before[0] + 16, before[1] + 16)  # each post, each card once
    assert len(commits) <= 6, commits  # claims and flushes, not one per post


def test_rows_the_pace_puts_back_while_serving_go_back_with_the_records(driver):
    """A lane whose conversation's burst is spent puts its rest back untried; while serving
    that is written with the next batch of records (before the next claim), not in a
    transaction of the lane's own."""
    _warm(driver)
    driver.deliver()
    view = driver.open_signal_modal("U0CSM0001")
    for index in range(4):  # 4 cards to the AE, 4 to the CSM: a burst is 3
        _submit(driver, view, f"VPACE{index:04d}")
    deliverer = driver.worker.deliverer
    deliverer.recent.clear()
    lane_commits = _serve_until(driver, deliverer, _counts(driver)[0] + 6, ("deliver",))
    assert lane_commits == []
    with driver.services.unit_of_work() as session:
        put_back = session.execute(select(OutboxMessage.attempts, OutboxMessage.claimed_by)
                                   .where(OutboxMessage.status == "pending")).all()
    assert put_back == [(0, None)] * 2  # untried, unclaimed, for when the pace allows


def _serve_until(driver, deliverer, sent: int, threads: tuple[str, ...]) -> list[str]:
    """Run the serving loop until `sent` outbox rows are sent; the names of the `threads`
    that committed meanwhile."""
    stop, wake = threading.Event(), threading.Event()
    with _commits(driver) as commits:
        serving = threading.Thread(target=deliverer.serve, args=(wake, stop), name="serving")
        serving.start()
        try:
            wait_for(lambda: _counts(driver)[0] == sent)
        finally:
            stop.set()
            serving.join(timeout=10)
    return [name for name in commits if name.startswith(threads)]


def _sent_in_a_batch(driver, prefix: str, submissions: int = 4):
    """Claim and send `submissions` signals' cards with records batched, as while serving;
    the deliverer, its records not yet written, and the counts before."""
    _warm(driver)
    driver.deliver()
    before = _counts(driver)
    view = driver.open_signal_modal("U0CSM0001")
    for index in range(submissions):
        _submit(driver, view, f"{prefix}{index:04d}")
    deliverer = driver.worker.deliverer
    _no_pace(deliverer)
    lanes = deliverer.claim(100)
    deliverer.batch_records = True
    for lane in lanes:
        deliverer.run_lane(lane)
    return deliverer, before


def test_a_batch_of_posts_is_recorded_with_two_statements(driver):
    """However many posts a batch holds: one fenced update for all (on SQLite one driver
    executemany, inside the write lock the acks wait for), one insert of the cards."""
    deliverer, before = _sent_in_a_batch(driver, "VREC")
    with counting(driver.services.engine) as statements:
        deliverer.flush_records()
    deliverer.batch_records = False
    assert len(statements) == 2, "\n".join(statements)
    assert _counts(driver) == (before[0] + 8, before[1] + 8)


def test_a_batch_records_only_the_posts_whose_claim_still_holds(driver):
    """A row another claimer took over (its lease ran out) is not recorded by this batch, and
    gets no card row from it; the rest of the batch is recorded."""
    deliverer, before = _sent_in_a_batch(driver, "VFENCE", submissions=2)
    with deliverer._unrecorded_lock:
        taken = deliverer._unrecorded[0].row
    with driver.services.unit_of_work() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == taken.id)
                        .values(claimed_by="another-worker", attempts=taken.attempt + 1))
    deliverer.flush_records()
    deliverer.batch_records = False
    assert _counts(driver) == (before[0] + 3, before[1] + 3)
    with driver.services.unit_of_work() as session:
        row = session.get(OutboxMessage, taken.id)
        assert (row.status, row.claimed_by, row.result_ts) == ("sending", "another-worker", None)


def test_a_batch_does_not_record_a_post_another_worker_recorded_already(driver):
    """Another claimer took a row over (this claim's lease ran out), reconciled it and
    adopted this very post's ts: the batch records the rest, not that row, and does not
    write its card a second time (a card's channel and ts are unique)."""
    deliverer, before = _sent_in_a_batch(driver, "VADOPT", submissions=2)
    with deliverer._unrecorded_lock:
        sent = deliverer._unrecorded[0]
    with driver.services.unit_of_work() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == sent.row.id).values(
            claimed_by="another-worker", attempts=sent.row.attempt + 1, status="sent",
            result_channel=sent.channel, result_ts=sent.ts))
        session.add(Card(signal_id=sent.row.signal_id, audience=sent.row.payload["audience"],
                         user_id=sent.row.target, channel=sent.channel, ts=sent.ts,
                         created_at=sent.at))
    deliverer.flush_records()
    deliverer.batch_records = False
    assert _counts(driver) == (before[0] + 4, before[1] + 4)  # three by the batch, one adopted
    with deliverer._unrecorded_lock:
        assert deliverer._unrecorded == []  # written, not kept for a flush that would fail


def test_a_claim_writes_the_records_waiting_and_on_postgresql_renders_in_one_transaction(
        driver):
    """The posts recorded since the last claim are written in the claim's transaction; on
    PostgreSQL the posts claimed are rendered in it too (SQLite renders in a read of its
    own, after the claim let go of the write lock)."""
    deliverer, before = _sent_in_a_batch(driver, "VMERGE")
    view = driver.open_signal_modal("U0CSM0001")
    _submit(driver, view, "VMERGE-NEXT")
    with _commits(driver) as commits:
        lanes = deliverer.claim(100)
    deliverer.batch_records = False
    assert _counts(driver) == (before[0] + 8, before[1] + 8)
    assert sorted(len(lane) for lane in lanes) == [1, 1]  # the next signal's two cards
    assert all(lane[0].rendered is not None for lane in lanes)
    assert len(commits) == (1 if driver.services.engine.dialect.name == "postgresql" else 2)


def test_records_a_failed_claim_took_are_written_by_the_next(driver, monkeypatch):
    deliverer, before = _sent_in_a_batch(driver, "VAGAIN", submissions=2)
    real = deliverer._claim_in

    def fails(*args, **kwargs):
        raise RuntimeError("the database went away mid-claim")

    monkeypatch.setattr(deliverer, "_claim_in", fails)
    assert deliverer._safe_claim(100) == []
    assert _counts(driver) == before  # rolled back with the claim, kept for the next one
    monkeypatch.setattr(deliverer, "_claim_in", real)
    deliverer._safe_claim(100)
    deliverer.batch_records = False
    assert _counts(driver) == (before[0] + 4, before[1] + 4)


@contextmanager
def _commits(driver) -> Iterator[list[str]]:
    """The names of the threads that committed while the block ran, one per commit."""
    commits: list[str] = []

    def committed(_conn) -> None:
        commits.append(threading.current_thread().name)

    event.listen(driver.services.engine, "commit", committed)
    try:
        yield commits
    finally:
        event.remove(driver.services.engine, "commit", committed)


def _counts(driver) -> tuple[int, int]:
    """(outbox rows sent, card rows)."""
    with driver.services.unit_of_work() as session:
        return (session.scalar(select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.status == "sent")),
                session.scalar(select(func.count()).select_from(Card)))


def _no_pace(deliverer) -> None:
    """Slack's per-conversation pace is not counted here (nor what the claim skips for it)."""
    deliverer._pace = lambda row: None
    deliverer._lane_room = lambda now: {}
