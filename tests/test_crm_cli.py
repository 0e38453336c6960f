"""`signalbot crm check`: what is missing, and the exact definitions to create it."""

from __future__ import annotations

import io
import json
from pathlib import Path

from freezegun import freeze_time

from bot.crm_cli import check
from standin.hubspot import CUSTOM, HubSpotStandin
from standin.salesforce import CUSTOM as SF_CUSTOM
from standin.salesforce import SalesforceStandin
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    email,
    hook,
    hubspot_crm,
    hubspot_fixture,
    receiver_fixture,
    salesforce_crm,
    salesforce_fixture,
)
from tests.flow import log, worker
from tests.people import AE, AE2
from tests.test_cli import base_env, signalbot


def run_check(services) -> tuple[int, str]:
    out = io.StringIO()
    code = check(services, out=out)
    return code, out.getvalue()


def test_check_passes_on_a_complete_hubspot_portal(sqlite_url, standin, hubspot, receiver,
                                                   monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot),
                   webhooks=[hook(receiver, "handed_off")])
    with freeze_time(START):
        log(services)
        worker(services, standin).deliverer.drain()  # the bot learns the AE's e-mail
    code, out = run_check(services)
    assert code == 0, out
    assert "ok       token: accepted (portal 4242)" in out
    assert "ok       stage won -> closedwon: Closed won" in out
    assert "ok       property signalbot_signal_id: present" in out
    assert f"ok       owner <@{AE}> {email(AE)}: HubSpot owner" in out
    assert "ok       webhook" in out and "$HOOK_SECRET is set" in out


def test_check_lists_what_is_missing_with_the_property_definitions(sqlite_url, standin,
                                                                   monkeypatch):
    with HubSpotStandin(custom=CUSTOM[1:]) as hs:  # no signalbot_signal_id
        hs.pipeline["stages"] = [s for s in hs.pipeline["stages"] if s["id"] != "closedlost"]
        services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hs))
        code, out = run_check(services)
    assert code == 1
    assert "MISSING  property signalbot_signal_id: missing" in out
    assert "FAIL     stage lost -> closedlost: not in this pipeline" in out
    [body] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert body == {"name": "signalbot_signal_id", "label": "Signalbot: Signalbot signal id",
                    "type": "string", "fieldType": "text", "groupName": "dealinformation",
                    "description": body["description"], "hasUniqueValue": True}
    assert f"POST {hs.base_url}/crm/v3/properties/deals" in out


def test_the_printed_definitions_create_working_properties(sqlite_url, standin, monkeypatch):
    with HubSpotStandin(custom=()) as hs:
        services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hs))
        _, out = run_check(services)
        for line in out.splitlines():
            if line.startswith("{"):
                hs.handle("POST", "/crm/v3/properties/deals",
                          {"authorization": f"Bearer {hs.token}"}, line.encode())
        code, out = run_check(services)
    assert code == 0, out


def test_check_reports_a_bad_token_and_stops(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-wrong")
    code, out = run_check(services)
    assert code == 1 and "FAIL     token: HubSpot HTTP 401" in out and "pat-wrong" not in out
    assert "property" not in out


def test_check_on_salesforce(sqlite_url, standin, monkeypatch):
    with SalesforceStandin(custom=tuple(n for n in SF_CUSTOM if "Context" not in n)) as sf:
        sf.add_user(email(AE))
        services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(sf))
        with freeze_time(START):
            log(services)
            log(services, ae_id=AE2, account="Initech")
            worker(services, standin).deliverer.drain()
        code, out = run_check(services)
    assert code == 1
    assert "ok       token: issued by the client-credentials flow" in out
    assert "ok       API version 62.0: available" in out
    assert "ok       stage handed_off -> Prospecting: an active StageName value" in out
    assert "MISSING  field Signalbot_Context__c: missing" in out
    assert "Signalbot_Context__c: label \"Signal context\", Long Text Area(32768)" in out
    assert f"FAIL     owner <@{AE2}> {email(AE2)}: no active user with it" in out


def test_signalbot_crm_check_from_the_command_line(tmp_path: Path, hubspot):
    config = tmp_path / "signalbot.yml"
    config.write_text(f"crm:\n  provider: hubspot\n  base_url: {hubspot.base_url}\n"
                      "  token_env: HS_TOKEN\n")
    env = base_env(tmp_path, SIGNALBOT_CONFIG=str(config), HS_TOKEN=hubspot.token)
    result = signalbot("crm", "check", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("signalbot crm check\nHubSpot (http://127.0.0.1:")
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    backfill = signalbot("crm", "backfill", "--since", "2026-01-01", env=env, cwd=tmp_path)
    assert backfill.returncode == 0, backfill.stderr
    assert backfill.stdout == "queued 0 signal(s) handed off since 2026-01-01 for HubSpot; " \
                              "the worker sends them\n"


def test_check_covers_reading_deals_back(sqlite_url, standin, hubspot, monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    code, out = run_check(services)
    assert code == 0 and "ok       reading deals back (CRM search): allowed" in out
    hubspot.fail_next("deals.search", status=403, body={
        "status": "error", "category": "MISSING_SCOPES",
        "message": "This app hasn't been granted all required scopes to make this call."})
    code, out = run_check(services)
    assert code == 1
    assert "FAIL     reading deals back (CRM search): refused" in out
    assert "crm.objects.deals.read" in out


def test_check_covers_reading_opportunities_back(sqlite_url, standin, salesforce,
                                                 monkeypatch):
    services = bot(sqlite_url, standin, monkeypatch, salesforce_crm(salesforce))
    code, out = run_check(services)
    assert code == 0, out
    assert "ok       reading opportunities back (SOQL on LastModifiedDate): allowed" in out
    salesforce.fail_next("query", status=400, body=[{
        "errorCode": "INVALID_TYPE", "message": "sObject type 'Opportunity' is not supported."}])
    code, out = run_check(services)
    assert code == 1 and "FAIL     reading opportunities back (SOQL): refused" in out
