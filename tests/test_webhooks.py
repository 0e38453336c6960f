"""Webhooks: signed JSON posts of signal events, retried through the outbox, verifiable."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from service import signals as ops
from service import webhooks
from tests.crm_support import (  # noqa: F401 - fixtures
    HOOK_SECRET,
    START,
    _fresh_clients,
    bot,
    hook,
    receiver_fixture,
    rows,
)
from tests.flow import act, log, worker
from tests.people import ADMIN, AE

BODY = b'{"event":"handed_off","id":"webhook:0:1:handed_off:3"}'


def drain(services, slack) -> None:
    worker(services, slack).deliverer.drain()


def test_sign_and_verify_follow_the_documented_scheme():
    stamp = 1_795_000_000
    expected = "v1=" + __import__("hmac").new(
        b"s3cret", f"{stamp}.".encode() + BODY, "sha256").hexdigest()
    assert webhooks.sign("s3cret", stamp, BODY) == expected
    assert webhooks.verify("s3cret", str(stamp), BODY, expected, now=stamp + 10)


def test_verify_rejects_tampering_other_secrets_and_stale_or_garbled_timestamps():
    stamp = 1_795_000_000
    good = webhooks.sign("s3cret", stamp, BODY)
    assert not webhooks.verify("s3cret", stamp, BODY + b" ", good, now=stamp)
    assert not webhooks.verify("other", stamp, BODY, good, now=stamp)
    assert not webhooks.verify("s3cret", stamp + 1, BODY, good, now=stamp)
    assert not webhooks.verify("s3cret", stamp, BODY, good, now=stamp + 301)
    assert webhooks.verify("s3cret", stamp, BODY, good, tolerance=600, now=stamp + 301)
    assert not webhooks.verify("s3cret", "soon", BODY, good, now=stamp)
    rotated = f"{webhooks.sign('old', stamp, BODY)}, {good}"
    assert webhooks.verify("s3cret", stamp, BODY, rotated, now=stamp)


def test_a_hand_off_posts_a_signed_event_a_receiver_can_verify(sqlite_url, standin, receiver,
                                                               monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver)])
    with freeze_time(START):
        signal_id = log(services)
        drain(services, standin)
    [post] = receiver.posts()
    stamp = post.headers["x-signalbot-timestamp"]
    assert stamp == str(int(datetime(2026, 11, 23, 14, tzinfo=UTC).timestamp()))
    assert webhooks.verify(HOOK_SECRET, stamp, post.body, post.headers["x-signalbot-signature"],
                           now=int(stamp))
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-signalbot-event"] == "handed_off"
    event = json.loads(post.body)
    assert event["id"] == post.headers["x-signalbot-delivery"] == f"webhook:0:{signal_id}:" \
                                                                  "handed_off:3"
    assert event["event"] == "handed_off" and event["signal"]["id"] == signal_id
    assert event["signal"]["account"]["name"] == "Globex Corp"
    assert event["signal"]["buyer"] == {"name": "Jamie Reyes", "title": None}
    assert event["signal"]["stage"] == "handed_off" and event["signal"]["ae"] == AE
    assert HOOK_SECRET.encode() not in post.body


def test_only_the_configured_events_are_posted(sqlite_url, standin, receiver, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch,
                   webhooks=[hook(receiver, "handed_off", "outcome")])
    with freeze_time(START) as clock:
        signal_id = log(services)
        for operation, args in [(ops.acknowledge, (AE,)), (ops.log_contact, (AE,)),
                                (ops.record_outcome, ("won", AE))]:
            clock.tick(timedelta(hours=1))
            act(services, operation, signal_id, *args)
        drain(services, standin)
    events = [p.headers["x-signalbot-event"] for p in receiver.posts()]
    assert events == ["handed_off", "outcome"]
    assert json.loads(receiver.posts()[-1].body)["signal"]["outcome"] == "won"


def test_a_missed_sla_posts_an_escalated_event(sqlite_url, standin, receiver, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver, "escalated")])
    with freeze_time(START) as clock:
        log(services)
        clock.tick(timedelta(hours=5))  # Hot: acknowledge within 4h
        w = worker(services, standin)
        w.sweep_once()
        w.deliverer.drain()
    [post] = receiver.posts()
    event = json.loads(post.body)
    assert event["event"] == "escalated" and event["detail"]["clock"] == "ack"
    assert event["detail"]["level"] == 1


def test_each_escalation_level_posts_once_when_it_was_decided(sqlite_url, standin, receiver,
                                                               monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver, "escalated")])
    with freeze_time(START) as clock:
        log(services)
        w = worker(services, standin)
        for hours in (5, 4, 4):  # level 1, level 2 one ack window later, then nothing new
            clock.tick(timedelta(hours=hours))
            w.sweep_once()
            w.deliverer.drain()
    events = [json.loads(post.body) for post in receiver.posts()]
    # the sweep does not move the signal's version: each post is keyed by clock and level
    assert [e["detail"]["level"] for e in events] == [1, 2]
    assert len({e["id"] for e in events}) == 2 and all(":esc:" in e["id"] for e in events)
    start = datetime.fromisoformat(START).replace(tzinfo=UTC)
    assert [e["occurred_at"] for e in events] == [
        (start + timedelta(hours=5)).isoformat(), (start + timedelta(hours=9)).isoformat()]


def test_5xx_and_timeouts_are_retried_with_a_fresh_signature_and_the_same_delivery_id(
    sqlite_url, standin, receiver, monkeypatch
):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver, "handed_off")])
    receiver.fail_next("hook", status=503, retry_after=60)
    receiver.fail_next("hook", drop=True)
    with freeze_time(START) as clock:
        log(services)
        drain(services, standin)
        [row] = rows(services, "webhook")
        assert row.status == "pending" and row.next_try_at - row.created_at == timedelta(minutes=1)
        for _ in range(3):
            clock.tick(timedelta(minutes=5))
            drain(services, standin)
    calls = receiver.calls_to("hook")
    assert [c.status for c in calls] == [503, None, 200]
    assert len({c.headers["x-signalbot-delivery"] for c in calls}) == 1
    assert calls[0].headers["x-signalbot-timestamp"] != calls[2].headers["x-signalbot-timestamp"]
    final = calls[2]
    assert webhooks.verify(HOOK_SECRET, final.headers["x-signalbot-timestamp"], final.body,
                           final.headers["x-signalbot-signature"],
                           now=int(final.headers["x-signalbot-timestamp"]))


def test_a_receiver_that_refuses_is_held_and_the_admins_told(sqlite_url, standin, receiver,
                                                            monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver, "handed_off")])
    receiver.fail_next("hook", times=2, status=401, body={"error": "bad signature"})
    with freeze_time(START):
        log(services)
        log(services, account="Initech")
        drain(services, standin)
    assert [r.status for r in rows(services, "webhook")] == ["held", "held"]
    [notice] = [m["text"] for m in standin.dm_messages(ADMIN)]
    assert "HTTP 401" in notice and "bad signature" in notice
    assert len(standin.dm_messages(AE)) == 2  # the Slack hand-offs went out regardless


def test_a_redirect_is_not_a_delivery_it_is_held_and_the_admins_told(sqlite_url, standin,
                                                                    receiver, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, webhooks=[hook(receiver, "handed_off")])
    receiver.fail_next("hook", status=301, headers={"Location": "https://elsewhere.example/x"})
    with freeze_time(START):
        log(services)
        drain(services, standin)
    [row] = rows(services, "webhook")
    assert row.status == "held"
    [notice] = [m["text"] for m in standin.dm_messages(ADMIN)]
    assert "HTTP 301" in notice and "elsewhere.example" in notice
    assert len(receiver.calls_to("hook")) == 1  # the redirect was not followed
