"""HubSpot: every hand-off is one deal, kept in step, whatever the API answers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time

from service import signals as ops
from standin.hubspot import rate_limited
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    email,
    hubspot_crm,
    hubspot_fixture,
    record,
    rows,
)
from tests.flow import act, log, worker
from tests.people import ADMIN, AE, AE2


def drain(services, slack) -> None:
    worker(services, slack).deliverer.drain()


def test_a_hand_off_writes_one_deal_with_the_signal_fields_and_the_ae_as_owner(
    db_url, standin, hubspot, monkeypatch
):
    services = bot(db_url, standin, monkeypatch, hubspot_crm(hubspot))
    company = hubspot.add_company("Globex Corp")
    with freeze_time(START):
        signal_id = log(services, est_arr=Decimal("48000"), timeline_date=date(2027, 3, 31),
                        buyer_title="VP Operations", detail="Seat utilisation at 89%")
        drain(services, standin)
    [upsert] = hubspot.calls_to("upsert")
    assert upsert.headers["authorization"] == "Bearer pat-na1-test"
    [item] = upsert.json["inputs"]
    assert item["idProperty"] == "signalbot_signal_id" and item["id"] == str(signal_id)
    props = hubspot.deal_for(signal_id)["properties"]
    assert props["dealname"] == "Globex Corp — seat expansion"
    assert (props["amount"], props["closedate"]) == ("48000.00", "2027-03-31T00:00:00Z")
    assert (props["pipeline"], props["dealstage"]) == ("default", "appointmentscheduled")
    owner = next(o for o in hubspot.owners.values() if o["email"] == email(AE))
    assert props["hubspot_owner_id"] == owner["id"]
    assert props["signalbot_buyer"] == "Jamie Reyes, VP Operations"
    assert props["signalbot_signal_type"].endswith("Seat utilisation at 89%")
    assert props["signalbot_timeline"] == "Q3 (by 2027-03-31)"
    assert props["signalbot_urgency"] == "Hot" and "qualified" in props["signalbot_qualification"]
    assert props["signalbot_slack_link"].startswith("https://standin.slack.example/archives/D")
    assert hubspot.associations == {(hubspot.deal_for(signal_id)["id"], company)}
    saved = record(services, signal_id)
    assert saved.url == f"https://app.hubspot.com/contacts/4242/record/0-3/{saved.record_id}"
    assert saved.owner_problem is None and saved.synced_version
    # the cards were refreshed with the record's link
    link = f"<{saved.url}|Open in HubSpot>"
    assert link in str(standin.dm_messages(AE)[-1]["blocks"])
    assert any(link in str(c.params.get("blocks")) for c in standin.calls_to("chat.update"))


def test_the_first_attempt_times_out_after_hubspot_kept_it_and_still_one_deal(
    sqlite_url, standin, hubspot, monkeypatch
):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    hubspot.fail_next("upsert", delay=1.5)  # applied, but the answer comes after our timeout
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        [crm_row] = rows(services, "crm.upsert")
        assert crm_row.status == "pending" and "no answer in time" in crm_row.last_error
        hubspot.settle()  # the slow first write lands after the client gave up
        assert len(hubspot.deals) == 1
        clock.tick(timedelta(minutes=5))
        drain(services, standin)
    assert len(hubspot.calls_to("upsert")) == 2
    assert len(hubspot.deals) == 1 and hubspot.deal_for(signal_id)
    assert rows(services, "crm.upsert")[0].status == "sent"


def test_429_waits_what_hubspot_says_then_writes(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    hubspot.fail_next("upsert", **rate_limited(retry_after=7))
    with freeze_time(START) as clock:
        log(services)
        drain(services, standin)
        [row] = rows(services, "crm.upsert")
        assert row.status == "pending" and "429" in row.last_error
        assert (row.next_try_at - row.created_at) == timedelta(seconds=7)
        clock.tick(timedelta(seconds=6))
        drain(services, standin)
        assert len(hubspot.calls_to("upsert")) == 1
        clock.tick(timedelta(seconds=2))
        drain(services, standin)
    assert len(hubspot.deals) == 1 and rows(services, "crm.upsert")[0].status == "sent"


def test_the_burst_budget_is_kept_before_hubspot_refuses(sqlite_url, standin, hubspot,
                                                        monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    hubspot.limit_rate(6, interval=10.0)  # HubSpot's private-app burst limit, scaled down
    with freeze_time(START) as clock:
        for n in range(5):
            log(services, account=f"Account {n}")
        for _ in range(15):
            drain(services, standin)
            clock.tick(timedelta(seconds=4))
    assert hubspot.rate_refused == 0  # paced by X-HubSpot-RateLimit-Remaining, never a 429
    assert len(hubspot.deals) == 5
    assert {r.status for r in rows(services, "crm.upsert")} == {"sent"}
    assert len(hubspot.requests) > 6  # more than one window allows: the pacing was needed


def test_500s_back_off_and_retry_without_a_second_deal(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    hubspot.fail_next("upsert", times=3, status=500, keep=True,
                      body={"status": "error", "message": "internal", "category": "ERROR"})
    with freeze_time(START) as clock:
        log(services)
        for _ in range(6):
            drain(services, standin)
            clock.tick(timedelta(minutes=10))
    assert len(hubspot.calls_to("upsert")) == 4 and len(hubspot.deals) == 1


def test_an_invalid_token_is_held_and_the_admins_told_once_in_slack(
    sqlite_url, standin, hubspot, monkeypatch
):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-revoked")
    with freeze_time(START):
        first, second = log(services), log(services, account="Initech")
        drain(services, standin)
        drain(services, standin)
    held = [r for r in rows(services, "crm.upsert") if r.status == "held"]
    assert len(held) == 2 and "401" in held[0].last_error
    [notice] = [m["text"] for m in standin.dm_messages(ADMIN)]
    assert "HubSpot HTTP 401" in notice and "HUBSPOT_TOKEN" in notice
    assert "pat-revoked" not in notice and "pat-na1-test" not in notice
    assert record(services, first).last_error.startswith("HubSpot HTTP 401")
    # the Slack side went on: both AE cards were delivered
    assert len(standin.dm_messages(AE)) == 2 and not hubspot.deals
    # fixed: `signalbot crm retry` re-queues the held writes
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-test")
    from bot.crm_cli import retry

    retry(services)
    drain(services, standin)
    assert hubspot.deal_for(first) and hubspot.deal_for(second)


def test_a_missing_property_is_held_with_the_property_named(
    sqlite_url, standin, hubspot, monkeypatch
):
    del hubspot.properties["signalbot_buyer"]
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        log(services)
        drain(services, standin)
    [row] = rows(services, "crm.upsert")
    assert row.status == "held" and "signalbot_buyer" in row.last_error
    assert any("signalbot_buyer" in m["text"] for m in standin.dm_messages(ADMIN))


def test_the_deal_follows_the_signal_to_won_with_the_arr(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services, est_arr=Decimal("30000"))
        drain(services, standin)
        stages = [hubspot.deal_for(signal_id)["properties"]["dealstage"]]
        for operation, args, kwargs in [
            (ops.acknowledge, (AE,), {}),
            (ops.log_contact, (AE,), {}),
            (ops.record_outcome, ("won", AE), {"won_arr": Decimal("42000")}),
        ]:
            clock.tick(timedelta(hours=1))
            act(services, operation, signal_id, *args, **kwargs)
            drain(services, standin)
            stages.append(hubspot.deal_for(signal_id)["properties"]["dealstage"])
    assert stages == ["appointmentscheduled", "appointmentscheduled", "qualifiedtobuy",
                      "closedwon"]
    props = hubspot.deal_for(signal_id)["properties"]
    assert props["amount"] == "42000.00" and props["closedate"] == "2026-11-23T00:00:00Z"
    assert props["signalbot_status"] == "Won" and len(hubspot.deals) == 1
    assert len(hubspot.calls_to("upsert")) == 4


def test_reassignment_moves_the_owner(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        signal_id = log(services)
        drain(services, standin)
        act(services, ops.reassign, signal_id, AE2, "territory", AE)
        drain(services, standin)
    owner = next(o for o in hubspot.owners.values() if o["email"] == email(AE2))
    props = hubspot.deal_for(signal_id)["properties"]
    assert props["hubspot_owner_id"] == owner["id"]
    assert "/archives/D0AE00002/" in props["signalbot_slack_link"]


def test_an_owner_hubspot_does_not_know_is_reported_not_guessed(
    sqlite_url, standin, hubspot, monkeypatch
):
    hubspot.owners.clear()
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        clock.tick(timedelta(hours=1))
        act(services, ops.acknowledge, signal_id, AE)
        drain(services, standin)
    assert "hubspot_owner_id" not in hubspot.deal_for(signal_id)["properties"]
    problem = record(services, signal_id).owner_problem
    assert problem == f"no HubSpot user has the e-mail {email(AE)}"
    notices = [m["text"] for m in standin.dm_messages(ADMIN)]
    assert len(notices) == 1 and f"<@{AE}>" in notices[0] and email(AE) in notices[0]


@pytest.mark.parametrize("by", ["crm_id", "name"])
def test_the_deal_is_associated_with_the_company_found_by_id_or_name(
    sqlite_url, standin, hubspot, monkeypatch, by
):
    company = hubspot.add_company("Globex Corporation" if by == "crm_id" else "Globex Corp")
    hubspot.add_company("Globex Corp Ltd")
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services, crm_id=company if by == "crm_id" else None)
        drain(services, standin)
        clock.tick(timedelta(hours=1))
        act(services, ops.acknowledge, signal_id, AE)
        drain(services, standin)
    assert hubspot.associations == {(hubspot.deal_for(signal_id)["id"], company)}
    assert len(hubspot.calls_to("associate")) == 1  # not repeated on later writes
    assert record(services, signal_id).company_id == company


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (429, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, 10.0),
        (429, {"X-HubSpot-RateLimit-Daily-Remaining": "0"}, 3600.0),
        (429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1.0),  # a date in the past
        (503, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, None),  # backoff instead
        (500, {"Retry-After": "86400"}, 3600.0),  # never more than an hour
    ],
)
def test_the_wait_comes_from_the_rate_limit_headers(status, headers, wait):
    import httpx

    from service.crm.http import Pool, Transient

    def answer(request):
        return httpx.Response(status, headers=headers, json={"message": "slow down"})

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://crm") as client, \
            pytest.raises(Transient) as caught:
        Pool().send(client, "HubSpot", "GET", "/x")
    assert caught.value.retry_after == wait and f"HTTP {status}" in str(caught.value)
