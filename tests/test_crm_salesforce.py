"""Salesforce: opportunities upserted by external id, with a client-credentials token kept fresh."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from freezegun import freeze_time

from service import signals as ops
from standin.salesforce import EXTERNAL
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    email,
    record,
    rows,
    salesforce_crm,
    salesforce_fixture,
)
from tests.flow import act, log, worker
from tests.people import ADMIN, AE


def drain(services, slack) -> None:
    worker(services, slack).deliverer.drain()


def test_a_hand_off_upserts_one_opportunity_by_external_id(db_url, standin, salesforce,
                                                           monkeypatch):
    account = salesforce.add_account("Globex Corp")
    services = bot(db_url, standin, monkeypatch, salesforce_crm(salesforce))
    with freeze_time(START):
        signal_id = log(services, est_arr=Decimal("48000"))
        drain(services, standin)
    [token] = salesforce.calls_to("token")
    assert token.form == {"grant_type": "client_credentials", "client_id": "3MVG-test-client",
                          "client_secret": "s3cret"}
    [upsert] = salesforce.calls_to("upsert")
    assert upsert.path == f"/services/data/v62.0/sobjects/Opportunity/{EXTERNAL}/{signal_id}"
    assert upsert.headers["authorization"] == "Bearer 00DSTANDIN!tok1"
    assert EXTERNAL not in upsert.json and "Id" not in upsert.json
    assert upsert.status == 201
    opportunity = salesforce.opportunity_for(signal_id)
    assert opportunity["Name"] == "Globex Corp — seat expansion"
    assert opportunity["StageName"] == "Prospecting" and opportunity["Amount"] == 48000.0
    assert opportunity["CloseDate"] == "2027-02-21"  # no timeline date: hand-off + 90 days
    assert opportunity["AccountId"] == account
    assert salesforce.users[opportunity["OwnerId"]] == email(AE)
    assert opportunity["Signalbot_Buyer__c"] == "Jamie Reyes"
    saved = record(services, signal_id)
    assert saved.url == f"{salesforce.base_url}/lightning/r/Opportunity/{saved.record_id}/view"


def test_the_opportunity_follows_the_signal_to_lost(sqlite_url, standin, salesforce, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    with freeze_time(START) as clock:
        signal_id = log(services, timeline_date=date(2027, 1, 15))
        drain(services, standin)
        for operation, args, kwargs in [
            (ops.log_contact, (AE,), {}),
            (ops.record_outcome, ("lost", AE), {"reason": "Budget frozen"}),
        ]:
            clock.tick(timedelta(days=1))
            act(services, operation, signal_id, *args, **kwargs)
            drain(services, standin)
    opportunity = salesforce.opportunity_for(signal_id)
    assert opportunity["StageName"] == "Closed Lost" and opportunity["CloseDate"] == "2026-11-25"
    assert opportunity["Signalbot_Outcome_Reason__c"] == "Budget frozen"
    assert [c.status for c in salesforce.calls_to("upsert")] == [201, 200, 200]
    assert len(salesforce.opportunities) == 1


def test_an_expired_session_gets_a_fresh_token_and_the_write_goes_through(
    sqlite_url, standin, salesforce, monkeypatch
):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        salesforce.expire_tokens()  # the org ended the session early
        clock.tick(timedelta(minutes=10))
        act(services, ops.acknowledge, signal_id, AE)
        drain(services, standin)
    assert salesforce.issued == 2
    assert [r.status for r in salesforce.requests].count(401) == 1  # refused once, then fresh
    assert [c.status for c in salesforce.calls_to("upsert")] == [201, 200]
    assert rows(services, "crm.upsert")[-1].status == "sent"


def test_the_token_is_renewed_before_the_session_times_out(
    sqlite_url, standin, salesforce, monkeypatch
):
    crm = salesforce_crm(salesforce, session_timeout=timedelta(hours=1))
    services = bot(sqlite_url, standin, monkeypatch, crm)
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        clock.tick(timedelta(minutes=50))
        act(services, ops.acknowledge, signal_id, AE)
        drain(services, standin)
        assert salesforce.issued == 1
        clock.tick(timedelta(minutes=6))  # 56 minutes: inside the 5-minute margin
        act(services, ops.log_contact, signal_id, AE)
        drain(services, standin)
    assert salesforce.issued == 2
    assert all(c.status in (200, 201) for c in salesforce.calls_to("upsert"))


def test_rejected_client_credentials_reach_the_admins(sqlite_url, standin, salesforce,
                                                      monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    monkeypatch.setenv("SF_CLIENT_SECRET", "wrong")
    with freeze_time(START):
        log(services)
        drain(services, standin)
    [row] = rows(services, "crm.upsert")
    assert row.status == "held" and "invalid_client" in row.last_error
    [notice] = [m["text"] for m in standin.dm_messages(ADMIN)]
    assert "$SF_CLIENT_ID / $SF_CLIENT_SECRET" in notice and "wrong" not in notice


def test_503_and_the_daily_api_limit_are_retried(sqlite_url, standin, salesforce, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    salesforce.fail_next("upsert", status=503, retry_after=30,
                         body=[{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}])
    salesforce.fail_next("upsert", status=403, body=[
        {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}])
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        [row] = rows(services, "crm.upsert")
        assert row.next_try_at - row.created_at == timedelta(seconds=30)
        clock.tick(timedelta(seconds=31))
        drain(services, standin)
        [row] = rows(services, "crm.upsert")
        assert row.status == "pending" and row.next_try_at - row.created_at > timedelta(hours=1)
        clock.tick(timedelta(hours=2))
        drain(services, standin)
    assert rows(services, "crm.upsert")[0].status == "sent"
    assert salesforce.opportunity_for(signal_id)


def test_a_missing_custom_field_is_held(sqlite_url, standin, monkeypatch):
    from standin.salesforce import CUSTOM, SalesforceStandin

    with SalesforceStandin(custom=tuple(n for n in CUSTOM if n != "Signalbot_Status__c")) as sf:
        services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(sf))
        with freeze_time(START):
            log(services)
            drain(services, standin)
    [row] = rows(services, "crm.upsert")
    assert row.status == "held" and "Signalbot_Status__c" in row.last_error


def test_a_timed_out_upsert_that_landed_is_not_doubled(sqlite_url, standin, salesforce,
                                                       monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    salesforce.fail_next("upsert", delay=1.5)
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        salesforce.settle()  # the slow first write lands after the client gave up
        clock.tick(timedelta(minutes=5))
        drain(services, standin)
    assert [c.status for c in salesforce.calls_to("upsert")] == [201, 200]
    assert len(salesforce.opportunities) == 1 and salesforce.opportunity_for(signal_id)
