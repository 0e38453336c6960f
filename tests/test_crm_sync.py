"""The CRM sync as part of the protocol: queued with changes, superseded, counted, backfilled."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from freezegun import freeze_time

from bot.crm_cli import backfill
from service import signals as ops
from service.crm import crm_problems
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    email,
    hook,
    hubspot_crm,
    hubspot_fixture,
    receiver_fixture,
    record,
    rows,
)
from tests.flow import act, at, log, worker
from tests.people import AE, CSM


def drain(services, slack) -> None:
    worker(services, slack).deliverer.drain()


def test_without_a_crm_or_webhooks_nothing_extra_is_queued(sqlite_url, standin, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch)
    with freeze_time(START):
        signal_id = log(services)
        act(services, ops.acknowledge, signal_id, AE)
    assert rows(services, "crm.upsert") == [] and rows(services, "webhook") == []


def test_a_later_change_supersedes_a_queued_write(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        signal_id = log(services)
        act(services, ops.acknowledge, signal_id, AE)
        act(services, ops.log_contact, signal_id, AE)
        drain(services, standin)
    assert [r.status for r in rows(services, "crm.upsert")] == ["sent", "skipped", "skipped"]
    [upsert] = hubspot.calls_to("upsert")
    assert upsert.json["inputs"][0]["properties"]["dealstage"] == "qualifiedtobuy"


def test_an_escalation_shows_on_the_deal(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        clock.tick(timedelta(hours=5))
        w = worker(services, standin)
        w.sweep_once()
        w.deliverer.drain()
    status = hubspot.deal_for(signal_id)["properties"]["signalbot_status"]
    assert status == "Handed off, awaiting acknowledgement · SLA missed, escalated"


def test_a_cs_led_signal_is_owned_by_the_csm(sqlite_url, standin, hubspot, monkeypatch):
    from bot.config import Routing

    csm_owner = hubspot.add_owner(email(CSM))
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot),
                   routing=Routing(enabled=True, cs_led_below=10_000))
    with freeze_time(START):
        signal_id = log(services, est_arr=5000)
        drain(services, standin)
    props = hubspot.deal_for(signal_id)["properties"]
    assert props["hubspot_owner_id"] == csm_owner and "CS-led" in props["signalbot_status"]


def test_the_link_is_added_when_the_ae_card_reaches_slack_late(sqlite_url, standin, hubspot,
                                                               monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    standin.fail_next("chat.postMessage", times=2, status=503)
    with freeze_time(START) as clock:
        signal_id = log(services)
        drain(services, standin)
        assert "signalbot_slack_link" not in hubspot.deal_for(signal_id)["properties"]
        for _ in range(3):
            clock.tick(timedelta(minutes=1))
            drain(services, standin)
    assert "/archives/" in hubspot.deal_for(signal_id)["properties"]["signalbot_slack_link"]
    assert len(hubspot.deals) == 1


def test_crm_problems_counts_for_the_digest(sqlite_url, standin, hubspot, receiver, monkeypatch):
    hubspot.owners.clear()
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot),
                   webhooks=[hook(receiver, "handed_off")])
    receiver.fail_next("hook", status=410)
    with freeze_time(START):
        log(services)
        drain(services, standin)
        monkeypatch.setenv("HUBSPOT_TOKEN", "pat-revoked")
        log(services, account="Initech")
        drain(services, standin)
    with services.unit_of_work() as session:
        week = crm_problems(session, at("2026-11-23 00:00"), at("2026-11-30 00:00"))
        before = crm_problems(session, at("2026-11-16 00:00"), at("2026-11-23 00:00"))
    assert week == {"held": 1, "webhooks_held": 1, "unmatched_owners": 1, "still_held": 2}
    assert before == {"held": 0, "webhooks_held": 0, "unmatched_owners": 0, "still_held": 2}


def test_backfill_pushes_signals_that_predate_the_integration(db_url, standin, hubspot,
                                                              monkeypatch):
    old = bot(db_url, standin, monkeypatch)  # no CRM yet
    with freeze_time("2026-11-02 14:00:00"):
        before = log(old)
    with freeze_time("2026-11-16 14:00:00"):
        signal_id = log(old, account="Initech")
        act(old, ops.acknowledge, signal_id, AE)
        log(old, account="Hooli", answers={"budget": True})  # not qualified: not handed off
    old.engine.dispose()
    services = bot(db_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        assert backfill(services, since=date(2026, 11, 10)) == 0
        assert [r.key for r in rows(services, "crm.upsert")] == [f"crm:{signal_id}:4:backfill"]
        drain(services, standin)
        assert backfill(services, since=date(2026, 11, 1)) == 0
        drain(services, standin)
        assert backfill(services, since=date(2026, 11, 1)) == 0
    assert len(rows(services, "crm.upsert")) == 2
    assert hubspot.deal_for(signal_id)["properties"]["signalbot_status"] == "Acknowledged"
    assert hubspot.deal_for(before) and len(hubspot.deals) == 2
    assert record(services, signal_id).synced_at == datetime.fromisoformat(
        "2026-11-23 14:00:00+00:00")


def test_a_crm_that_hangs_costs_one_timeout_not_one_per_row(sqlite_url, standin, hubspot,
                                                            monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    hubspot.fail_next("owners", delay=1.0)
    with freeze_time(START) as clock:
        for account in ("Globex", "Initech", "Hooli"):
            log(services, account=account)
        drain(services, standin)
        assert len(hubspot.requests) == 1  # the other writes failed fast, untried
        assert {r.status for r in rows(services, "crm.upsert")} == {"pending"}
        assert len(standin.dm_messages(AE)) == 3  # Slack went on
        hubspot.settle()
        clock.tick(timedelta(minutes=5))
        drain(services, standin)
    assert len(hubspot.deals) == 3
