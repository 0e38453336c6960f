"""Delivery: nothing lost, nothing twice, whatever Slack answers."""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from freezegun import freeze_time
from sqlalchemy import make_url, select, text

from bot.delivery import CLAIM_EVERY, Budget, Deliverer, make_client
from service import outgoing
from storage.models import OutboxMessage, Person
from storage.outbox import Outgoing, claim_due, enqueue
from tests.people import ADMIN, MGR

START = "2026-11-23 14:00:00"


def queue(services, n: int = 1, target: str = MGR, prefix: str = "m") -> None:
    with services.unit_of_work() as session:
        enqueue(
            session,
            [
                Outgoing(
                    key=f"{prefix}:{i}",
                    kind="slack.post",
                    target=target,
                    payload={"text": f"message {i}"},
                )
                for i in range(n)
            ],
            services.now(),
        )


def deliverer(services, standin, worker: str = "w1") -> Deliverer:
    return Deliverer(
        services.factory,
        services.config,
        make_client("xoxb-t", standin.base_url),
        clock=services.now,
        worker=worker,
    )


def rows(services) -> list[OutboxMessage]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def texts_in(standin, user) -> list[str]:
    return [m["text"] for m in standin.dm_messages(user)]


def test_429_waits_the_retry_after_then_sends_once(services, standin):
    with freeze_time(START) as clock:
        queue(services)
        standin.fail_next("chat.postMessage", status=429, retry_after=30)
        d = deliverer(services, standin)
        tally = d.drain()
        assert tally.retried == 1 and texts_in(standin, MGR) == []
        [row] = rows(services)
        assert row.status == "pending" and row.attempts == 0
        assert row.next_try_at == row.created_at + timedelta(seconds=30)
        clock.tick(timedelta(seconds=29))
        d.drain()
        assert texts_in(standin, MGR) == []
        clock.tick(timedelta(seconds=2))
        d.drain()
    assert texts_in(standin, MGR) == ["message 0"]


@pytest.mark.parametrize("fault", [{"status": 500, "keep": True}, {"drop": True, "keep": True}])
def test_slack_kept_it_but_the_answer_was_lost_reconciles_instead_of_resending(
    services, standin, fault
):
    with freeze_time(START) as clock:
        queue(services)
        standin.fail_next("chat.postMessage", **fault)
        d = deliverer(services, standin)
        d.drain()
        [row] = rows(services)
        assert row.status == "pending" and row.maybe_sent
        clock.tick(timedelta(minutes=10))
        d.drain()
    [row] = rows(services)
    assert row.status == "sent" and row.result_ts
    assert texts_in(standin, MGR) == ["message 0"]
    assert len(standin.calls_to("chat.postMessage")) == 1  # the retry found it, did not resend
    assert standin.calls_to("conversations.history")


def test_a_500_that_slack_did_not_keep_is_resent(services, standin):
    with freeze_time(START) as clock:
        queue(services)
        standin.fail_next("chat.postMessage", status=500)
        d = deliverer(services, standin)
        d.drain()
        clock.tick(timedelta(minutes=10))
        d.drain()
    assert texts_in(standin, MGR) == ["message 0"]


def test_semantic_errors_are_held_and_the_admins_told_once(services, standin):
    with freeze_time(START):
        queue(services, target="C0NOWHERE")
        standin.fail_next("chat.postMessage", error="channel_not_found")
        d = deliverer(services, standin)
        d.drain()
        d.drain()
    held = [r for r in rows(services) if r.status == "held"]
    assert [r.key for r in held] == ["m:0"]
    [notice] = texts_in(standin, ADMIN)
    assert "channel_not_found" in notice


def test_one_bad_row_does_not_block_the_others(services, standin):
    with freeze_time(START):
        queue(services, n=3)
        standin.fail_next("chat.postMessage", error="invalid_blocks")
        deliverer(services, standin).drain()
    assert sorted(texts_in(standin, MGR)) == ["message 1", "message 2"]


def test_slack_down_for_an_hour_then_back_loses_nothing_and_doubles_nothing(services, standin):
    with freeze_time(START) as clock:
        queue(services, n=20)
        d = deliverer(services, standin)
        standin.fail_next(None, times=10_000, status=503, keep=False)
        for _ in range(12):  # an hour of 5-minute ticks while Slack is down
            d.drain()
            clock.tick(timedelta(minutes=5))
        standin.clear_faults()
        standin.fail_next("chat.postMessage", times=3, status=500, keep=True)
        for _ in range(40):
            clock.tick(timedelta(minutes=5))
            d.drain()
    assert sorted(texts_in(standin, MGR)) == sorted(f"message {i}" for i in range(20))
    assert standin.duplicates() == []
    assert {r.status for r in rows(services)} == {"sent"}


def test_a_claimer_that_died_mid_send_is_reconciled_by_another(services, standin):
    with freeze_time(START) as clock:
        queue(services)
        a = deliverer(services, standin, "dead")
        with services.unit_of_work() as session:
            [claimed] = claim_due(
                session, now=services.now(), worker="dead", limit=10, lease=a.lease
            )
        # the dead worker's post reached Slack, but it never recorded the result
        channel = a.conversation(MGR)
        a.client.chat_postMessage(
            channel=channel,
            text="message 0",
            metadata={"event_type": "signalbot_outbox", "event_payload": {"key": "m:0"}},
        )
        b = deliverer(services, standin, "alive")
        assert b.drain().sent == 0  # the lease still holds
        clock.tick(a.lease + timedelta(seconds=1))
        b.drain()
    assert texts_in(standin, MGR) == ["message 0"]
    [row] = rows(services)
    assert row.status == "sent" and row.claimed_by == "alive"


def _write_without_waiting(services, slack_id: str) -> None:
    """Write the person's row, refusing to wait for another writer: SQLite's write lock is
    asked for without its busy handler (or this test's own lock file), PostgreSQL's row lock
    with a 200 ms lock timeout. Raises when a writer holds what this write needs."""
    url = services.engine.url
    if url.get_backend_name() == "sqlite":
        raw = sqlite3.connect(make_url(url).database, timeout=0, isolation_level=None)
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute("INSERT OR IGNORE INTO people (slack_id, deactivated) VALUES (?, 0)",
                        (slack_id,))
            raw.execute("COMMIT")
        finally:
            raw.close()
        return
    with services.engine.connect() as conn:
        conn.execute(text("SET lock_timeout = '200ms'"))
        conn.execute(text("INSERT INTO people (slack_id, deactivated) VALUES (:id, false) "
                          "ON CONFLICT DO NOTHING"), {"id": slack_id})
        conn.commit()


def test_no_write_waits_while_slack_is_asked_about_a_new_person(services, standin):
    """The first DM to someone asks Slack who they are and opens the DM; on SQLite an open
    write transaction meanwhile would hold the one write lock every ack waits for."""
    newcomer = "U0NEWCOMER"
    standin.add_user(newcomer, name="Nova Newcomer", tz="Europe/Paris")
    standin.fail_next("users.info", delay=2.0)  # Slack is slow: answers after 2 s
    d = deliverer(services, standin)
    found: list[str] = []
    asking = threading.Thread(target=lambda: found.append(d.conversation(newcomer)))
    asking.start()
    deadline = time.monotonic() + 5
    while not standin.calls_to("users.info") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert standin.calls_to("users.info"), "the deliverer never asked Slack"
    try:
        _write_without_waiting(services, newcomer)  # raised while the lock was held
        assert asking.is_alive()  # Slack has not answered yet: written meanwhile
    finally:
        asking.join()
    assert found == [standin.dm_channel(newcomer)]
    with services.unit_of_work() as session:
        row = session.get(Person, newcomer)
        assert (row.dm_channel, row.tz, row.name) == (
            standin.dm_channel(newcomer), "Europe/Paris", "Nova Newcomer")
        assert row.profile_checked_at is not None and not row.deactivated


def test_bursts_to_one_conversation_are_paced(services, standin):
    with freeze_time(START) as clock:
        queue(services, n=9)
        d = deliverer(services, standin)
        d.drain()
        assert len(texts_in(standin, MGR)) == 3  # a burst of three, then one a second
        for _ in range(6):
            clock.tick(timedelta(seconds=3))
            d.drain()
    assert len(texts_in(standin, MGR)) == 9


def test_a_conversation_whose_burst_is_spent_is_not_claimed_only_to_be_put_back(
        services, standin):
    """The claim takes no more posts into a conversation than its pace lets go now: the
    rest stay pending and untouched (no attempt counted, no claim written), and go when
    the pace allows, in order."""
    with freeze_time(START) as clock:
        queue(services, n=3)
        d = deliverer(services, standin)
        d.drain()  # a burst of three: the conversation's pace is spent for now
        queue(services, n=2, prefix="later")
        assert d.claim(100) == []  # nothing claimed, nothing to put back
        waiting = [r for r in rows(services) if r.key.startswith("later")]
        assert [(r.status, r.attempts, r.claimed_by) for r in waiting] == [
            ("pending", 0, None)] * 2
        clock.tick(timedelta(seconds=1))
        d.recent[MGR].popleft()  # one slot of the burst free again: one post, not two
        [lane] = d.claim(100)
        assert [row.key for row in lane] == ["later:0"]
        d.run_lane(lane)
        clock.tick(timedelta(seconds=4))
        d.drain()
    assert texts_in(standin, MGR) == [f"message {i}" for i in (0, 1, 2, 0, 1)]
    assert standin.duplicates() == []


def test_what_the_pace_does_not_hold_still_goes_while_a_conversations_burst_is_spent(
        services, standin):
    """An ephemeral answer to someone whose DM burst is spent is not held back with the
    posts queued after it."""
    with freeze_time(START):
        queue(services, n=3)
        d = deliverer(services, standin)
        d.drain()
        with services.unit_of_work() as session:
            enqueue(session, [outgoing.ephemeral("eph:1", "D0MGR0001", MGR, "only you")],
                    services.now())
        queue(services, n=1, prefix="later")
        [lane] = d.claim(100)
        assert [row.key for row in lane] == ["eph:1"]
        assert d.run_lane(lane).sent == 1
        assert [(e["user"], e["text"]) for e in standin.ephemerals] == [(MGR, "only you")]
        assert d.claim(100) == []  # the post behind it waits for the pace


def test_a_private_digest_channel_is_reconciled_with_the_manifests_scopes(services, standin):
    """Reading a private channel's history needs groups:history; the manifest asks for it."""
    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())
    standin.scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    with freeze_time(START) as clock:
        queue(services, target="G0DIGEST01")  # a private channel
        standin.fail_next("chat.postMessage", status=500, keep=True)  # kept, answer lost
        d = deliverer(services, standin)
        d.drain()
        clock.tick(timedelta(minutes=10))
        d.drain()
    [row] = rows(services)
    assert row.status == "sent"
    assert len(standin.messages("G0DIGEST01")) == 1 and standin.duplicates() == []
    assert [c.error for c in standin.calls_to("conversations.history")] == [None]


# -- side by side: conversations at once, one message at a time within each ----------------

PEOPLE = [f"U0PEOPLE{i:02d}" for i in range(12)]


def spread(services, standin, per_person: int, people=PEOPLE) -> None:
    """`per_person` messages to each person, queued round-robin (as a sweep would)."""
    for user in people:
        standin.add_user(user, user.lower())
    with services.unit_of_work() as session:
        enqueue(session, [
            Outgoing(key=f"s:{user}:{n}", kind="slack.post", target=user,
                     payload={"text": f"{user} {n}"})
            for n in range(per_person) for user in people], services.now())


def in_order(standin, per_person: int, people=PEOPLE) -> bool:
    return all(texts_in(standin, u) == [f"{u} {n}" for n in range(per_person)] for u in people)


def test_conversations_go_side_by_side_within_the_bound(services, standin):
    standin.latency = 0.2  # Slack's round trip: calls overlap only if the bot sends them so
    with freeze_time(START):
        spread(services, standin, per_person=2)
        d = deliverer(services, standin)
        d.concurrency = 4
        tally = d.drain()
    assert tally.sent == 2 * len(PEOPLE)
    assert 2 <= standin.peak_in_flight <= 4  # side by side, never more than the bound
    assert standin.overlaps == []  # never two at once into one conversation
    assert in_order(standin, per_person=2)


def test_a_429_on_a_tiered_method_holds_that_method_not_the_others(services, standin):
    with freeze_time(START) as clock:
        queue(services, target=MGR, prefix="dm")  # needs conversations.open first
        queue(services, target="C0CHANNEL1", prefix="channel")  # a channel needs none
        standin.fail_next("conversations.open", status=429, retry_after=30)
        d = deliverer(services, standin)
        d.drain()
        assert [m["text"] for m in standin.messages("C0CHANNEL1")] == ["message 0"]
        assert texts_in(standin, MGR) == []
        queue(services, target=ADMIN, prefix="other")  # another new person meanwhile
        d.drain()
        assert len(standin.calls_to("conversations.open")) == 1  # held, not asked again
        clock.tick(timedelta(seconds=31))
        d.drain()
    assert texts_in(standin, MGR) == ["message 0"] and texts_in(standin, ADMIN) == ["message 0"]


def _rounds(deliverers, clock, services, total: int) -> None:
    """Every deliverer runs a pass at the same moment (threads), then time moves 3 s."""
    import threading

    errors: list[BaseException] = []

    def run(d):
        try:
            d.deliver_due(limit=3)  # each takes a few conversations, the other the next
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for _ in range(60):
        threads = [threading.Thread(target=run, args=(d,)) for d in deliverers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        if sum(r.status == "sent" for r in rows(services)) == total:
            return
        clock.tick(timedelta(seconds=3))


@pytest.mark.postgres
def test_two_workers_under_latency_429s_and_an_ambiguous_500_send_each_once_in_order(
        pg_url, standin, config):
    from tests.conftest import make_services

    services = make_services(pg_url, standin, config)
    people = PEOPLE[:6]
    standin.latency = 0.05
    try:
        with freeze_time(START) as clock:
            spread(services, standin, per_person=4, people=people)
            standin.fail_next("chat.postMessage", times=3, status=429, retry_after=1)
            standin.fail_next("chat.postMessage", status=500, keep=True)  # Slack kept it
            workers = [deliverer(services, standin, f"w{i}") for i in range(2)]
            for w in workers:
                w.concurrency = 4
            _rounds(workers, clock, services, total=4 * len(people))
        assert {r.status for r in rows(services)} == {"sent"}
        assert standin.duplicates() == [] and standin.overlaps == []
        assert in_order(standin, per_person=4, people=people)
        assert standin.calls_to("conversations.history")  # the 500 was reconciled
        claimers = {r.claimed_by for r in rows(services)}
        assert claimers == {"w0", "w1"}  # both took part
    finally:
        services.engine.dispose()


def test_a_workspace_ceiling_on_posts_paces_every_conversation_together(services, standin):
    """SIGNALBOT_SLACK_POSTS_PER_MINUTE: Slack's workspace-wide ceiling on chat.postMessage,
    paced here across conversations (ten seconds' worth as a burst)."""
    with freeze_time(START) as clock:
        spread(services, standin, per_person=1)  # 12 people, one message each
        d = deliverer(services, standin)
        d.post_budget = Budget(per_minute=30)  # 5 as a burst, then one every 2 s
        assert d.drain().sent == 5
        clock.tick(timedelta(seconds=2))
        assert d.drain().sent == 1
        clock.tick(timedelta(seconds=10))  # 5 more in the bucket
        assert d.drain().sent == 5
        clock.tick(timedelta(seconds=10))
        d.drain()
    assert len(standin.calls_to("chat.postMessage")) == 12 and standin.duplicates() == []


def test_two_claimers_at_the_same_moment_never_take_the_same_row(services):
    """Two workers (each its own connection) claim side by side until nothing is left: each
    row is taken once. On SQLite the claim's reads come after the write lock, not before."""
    with services.unit_of_work() as session:
        enqueue(session, [Outgoing(key=f"k:{i}", kind="slack.post", target=f"U0LANE{i % 300}",
                                   payload={"text": "x"}) for i in range(600)], services.now())
    start = threading.Barrier(2)
    taken: dict[str, list[int]] = {"a": [], "b": []}

    def claim(worker: str) -> None:
        start.wait()
        while True:
            with services.unit_of_work() as session:
                rows = claim_due(session, now=services.now() + timedelta(seconds=1),
                                 worker=worker, limit=20, lease=timedelta(minutes=5))
            if not rows:
                return
            taken[worker] += [row.id for row in rows]

    claimers = [threading.Thread(target=claim, args=(w,)) for w in taken]
    for thread in claimers:
        thread.start()
    for thread in claimers:
        thread.join()
    assert set(taken["a"]).isdisjoint(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 300  # each lane's first row, once


def test_of_rows_due_at_once_a_managers_escalation_is_claimed_first(services):
    """After an outage a sweep decides many escalations at once: each manager's card goes
    before the notices to the AE and the CSM queued with it (and before older ids)."""
    notices = [Outgoing(key=f"note:{i}", kind="slack.post", target=f"U0AE0000{i}",
                        payload={"text": f"notice {i}"}) for i in range(3)]
    card = Outgoing(key="card:1:manager:U0MGR0001:esc:1:1", kind="slack.post",
                    target="U0MGR0001", payload={"render": "card", "audience": "manager"})
    later = Outgoing(key="card:2:manager:U0MGR0002:esc:2:1", kind="slack.post",
                     target="U0MGR0002", payload={"render": "card", "audience": "manager"})
    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    with services.unit_of_work() as session:
        enqueue(session, [*notices, card], now)
        enqueue(session, [later], now + timedelta(seconds=1))
    with services.unit_of_work() as session:
        claimed = claim_due(session, now=now + timedelta(seconds=2), worker="w", limit=5,
                            lease=timedelta(seconds=60))
        order = [row.key for row in claimed]
    assert order == [card.key, *(n.key for n in notices), later.key]


def test_a_card_refresh_waits_for_the_signals_card_in_flight(services):
    """A refresh updates the cards recorded so far: while the signal's card is claimed (sent
    but not yet recorded, say), the refresh is not claimed; once it is recorded, it is."""
    from storage.outbox import OutboxStatus, finish

    now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    card = Outgoing(key="card:7:ae:U0AE00001:1", kind="slack.post", target="U0AE00001",
                    payload={"render": "card", "audience": "ae"}, signal_id=7)
    refresh = Outgoing(key="refresh:7:2", kind="slack.refresh", target=None, payload={},
                       signal_id=7)
    with services.unit_of_work() as session:
        enqueue(session, [card, refresh], now)

    def claim(limit: int) -> list:
        with services.unit_of_work() as session:
            return [(row.id, row.key, row.attempts) for row in claim_due(
                session, now=now, worker="w", limit=limit, lease=timedelta(seconds=60))]

    [(card_id, key, attempt)] = claim(1)
    assert key == card.key
    assert claim(10) == []  # the card is in flight: the refresh waits
    with services.unit_of_work() as session:
        assert finish(session, card_id, "w", attempt, status=OutboxStatus.SENT)
    assert [key for _, key, _ in claim(10)] == [refresh.key]


def test_a_worker_waits_for_the_pace_rather_than_claiming_nothing_again(services, standin):
    """Rows due but held by their conversation's pace: the serving loop's idle wait runs
    until the burst frees a slot (each early claim would take nothing)."""
    with freeze_time(START) as clock:
        queue(services, n=3)
        d = deliverer(services, standin)
        d.drain()  # a burst of three: the conversation's pace is spent for now
        queue(services, n=2, prefix="later")  # due now, but not claimed while it is
        # a conversation whose burst ended long ago (its deque is pruned only when it posts
        # again) does not cut the wait short
        d.recent["U0GONE"].extend([d.clock() - timedelta(minutes=5)] * 3)
        clock.tick(timedelta(seconds=0.5))
        assert d.claim(100) == []
        assert d._idle() == pytest.approx(1.0)  # 2.5 s to room, at most 1 s at a time
        clock.tick(timedelta(seconds=2))
        assert d._idle() == pytest.approx(0.5)  # the first of the burst leaves the window
        clock.tick(timedelta(seconds=0.5))
        assert d._idle() == pytest.approx(CLAIM_EVERY)  # the window ends now: at most that
        clock.tick(timedelta(seconds=0.2))
        [lane] = d.claim(100)
        assert [row.key for row in lane] == ["later:0", "later:1"]  # the burst went at once
