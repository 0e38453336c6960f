"""`POST /ingest/v1/events` over HTTP, and `signalbot ingest FILE`: every bad input answered,
every good event kept, nothing evaluated inside the request."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from bot.routes import routes
from bot.web import serve_in_thread, wsgi_app
from storage.models import Account, ProductEvent, Trigger, TriggerQueue
from tests.test_cli import base_env, signalbot

TOKEN = "ingest-test-token"
EXAMPLE = {
    "events": [
        {
            "id": "evt-1",
            "account": "0015g00000Globex",
            "type": "usage",
            "metric": "api_calls",
            "value": 74000,
            "limit": 100000,
            "period_end": "2026-10-31",
        },
        {
            "account": "Globex Corp",
            "type": "active_users",
            "value": 46,
            "seats": 50,
            "at": "2026-11-20T10:00:00Z",
        },
        {
            "account": "Globex Corp",
            "type": "gated_feature",
            "feature": "sso",
            "user": "jane@globex.example",
            "at": "2026-11-21T09:12:00Z",
        },
        {
            "account": "0015g00000Globex",
            "type": "account",
            "name": "Globex Corp",
            "csm": "U0CSM0001",
            "ae": "U0AE00001",
            "seats": 50,
            "contract_start": "2025-06-01",
            "renewal_date": "2027-02-01",
            "health": 82,
            "feature_adoption": 0.78,
            "open_support": "P3",
        },
    ]
}


@pytest.fixture
def api(services):
    """The bot's WSGI app with the ingest route (as `signalbot run` wires it), on a free port."""
    services.settings = replace(services.settings, ingest_token=TOKEN)
    server = serve_in_thread(wsgi_app(services, None, routes(services)))
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{server.server_port}",
        timeout=10,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    yield client, services
    client.close()
    server.shutdown()
    server.server_close()


def count(services, model, *where) -> int:
    with services.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_example_is_accepted_and_nothing_is_evaluated_in_the_request(api):
    client, services = api
    answer = client.post("/ingest/v1/events", json=EXAMPLE)
    assert answer.status_code == 202
    assert answer.json() == {"accepted": 4, "duplicates": 0, "rejected": []}
    with services.unit_of_work() as session:
        account = session.scalar(select(Account))
        assert (account.name, account.crm_id, account.csm_id, account.health) == (
            "Globex Corp",
            "0015g00000Globex",
            "U0CSM0001",
            82,
        )
        assert str(account.renewal_date) == "2027-02-01" and account.open_support == "P3"
    assert count(services, ProductEvent, ProductEvent.type != "account") == 3
    assert count(services, Trigger) == 0
    assert count(services, TriggerQueue) == 1  # the worker evaluates it later


BAD = [
    ({"account": "Globex Corp", "type": "bogus"}, "unknown type 'bogus'"),
    (
        {
            "account": "Nobody Inc",
            "type": "usage",
            "metric": "api_calls",
            "value": 1,
            "period_end": "2026-10-31",
        },
        "unknown account 'Nobody Inc'",
    ),
    (
        {
            "account": "Globex Corp",
            "type": "usage",
            "metric": "api_calls",
            "value": -5,
            "period_end": "2026-10-31",
        },
        "value: -5 is negative",
    ),
    (
        {"account": "Globex Corp", "type": "active_users", "value": "many"},
        "value: 'many' is not a number",
    ),
    (
        {
            "account": "Globex Corp",
            "type": "usage",
            "metric": "api_calls",
            "value": 10_000_001,
            "limit": 100_000,
            "period_end": "2026-10-31",
        },
        "more than 100× the limit (100,000)",
    ),
    (
        {
            "account": "Globex Corp",
            "type": "usage",
            "metric": "api_calls",
            "value": 1,
            "period_end": "2026-02-30",
        },
        "period_end: '2026-02-30' is not a date",
    ),
    (
        {"account": "Globex Corp", "type": "gated_feature", "feature": "sso", "at": "last week"},
        "at: 'last week' is not a date-time",
    ),
    ({"type": "usage", "metric": "api_calls", "value": 1}, "account: required"),
    ("not an object", "must be a JSON object"),
    ({"account": "Globex Corp", "type": "account", "health": 140}, "health: 140 is above 100"),
    ({"account": "Globex Corp", "type": "account", "csm": "casey"}, "not a Slack user id"),
]


def test_every_bad_event_is_rejected_with_its_index_and_the_good_ones_kept(api):
    client, services = api
    client.post("/ingest/v1/events", json=EXAMPLE)
    good = {
        "account": "Globex Corp",
        "type": "usage",
        "metric": "seats_api",
        "value": 3,
        "limit": 10,
        "period_end": "2026-10-31",
    }
    events = []
    for bad, _ in BAD:
        events += [good, bad]
    answer = client.post("/ingest/v1/events", json={"events": events})
    assert answer.status_code == 202
    body = answer.json()
    assert body["accepted"] == len(BAD)
    assert [r["index"] for r in body["rejected"]] == [2 * i + 1 for i in range(len(BAD))]
    for rejection, (_, reason) in zip(body["rejected"], BAD, strict=True):
        assert reason in rejection["error"], rejection
    assert count(services, ProductEvent, ProductEvent.name == "seats_api") == len(BAD)
    with services.unit_of_work() as session:
        assert session.scalar(select(Account.health)) == 82  # bad account events changed nothing


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, '"events" list'),
        (b'{"evts": []}', 400, '"events" list'),
        (b"", 400, "empty"),
        (json.dumps({"events": [{}] * 1001}).encode(), 413, "at most 1000 events"),
        (b'{"events": ["' + b"x" * 1_000_001 + b'"]}', 413, "larger than 1,000,000 bytes"),
    ],
)
def test_a_bad_body_gets_a_4xx_with_a_one_line_reason(api, body, status, error):
    client, services = api
    answer = client.post(
        "/ingest/v1/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == status
    assert error in answer.json()["error"] and "\n" not in answer.json()["error"]
    assert count(services, ProductEvent) == 0


def test_the_token_is_required(api):
    client, services = api
    assert (
        client.post(
            "/ingest/v1/events", json=EXAMPLE, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    assert httpx.post(f"{client.base_url}/ingest/v1/events", json=EXAMPLE).status_code == 401
    services.settings = replace(services.settings, ingest_token=None)
    assert client.post("/ingest/v1/events", json=EXAMPLE).status_code == 404  # no token: no route
    assert count(services, ProductEvent) == 0


def test_an_event_id_seen_before_is_not_counted_twice(api):
    client, services = api
    assert client.post("/ingest/v1/events", json=EXAMPLE).json()["accepted"] == 4
    again = client.post("/ingest/v1/events", json=EXAMPLE).json()
    assert again["duplicates"] == 1 and again["rejected"] == []
    both = {"events": [EXAMPLE["events"][0], {**EXAMPLE["events"][0], "value": 75000}]}
    assert client.post("/ingest/v1/events", json=both).json()["duplicates"] == 2
    assert count(services, ProductEvent, ProductEvent.event_id == "evt-1") == 1


def test_a_full_request_of_a_thousand_events_is_stored(api):
    """The 1,000-event limit holds whole (its speed is measured in bench/ingest_bench.py)."""
    client, services = api
    client.post("/ingest/v1/events", json={"events": [
        {"account": f"crm-{n}", "type": "account", "name": f"Account {n}", "seats": 50}
        for n in range(100)]})
    events = [
        {"id": f"e-{n}", "account": f"crm-{n % 100}", "type": "usage", "metric": "api_calls",
         "value": 1000 + n, "limit": 100_000, "period_end": f"2026-{1 + n // 100:02d}-28"}
        for n in range(1000)
    ]
    answer = client.post("/ingest/v1/events", json={"events": events})
    assert answer.status_code == 202 and answer.json()["accepted"] == 1000
    assert count(services, ProductEvent, ProductEvent.event_id.like("e-%")) == 1000


# --- the CLI on files ----------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        "crm_id,name,csm,seats,limits\n0015g00000Globex,Globex Corp,U0CSM0001,50,api_calls=100000\n"
    )
    assert signalbot("accounts", "import", str(accounts), env=env, cwd=tmp_path).returncode == 0
    return env


def test_ingest_a_json_lines_file(tmp_path, cli_env):
    lines = [
        json.dumps(
            {
                "id": f"e{n}",
                "account": "0015g00000Globex",
                "type": "usage",
                "metric": "api_calls",
                "value": v,
                "period_end": end,
            }
        )
        for n, (v, end) in enumerate(
            [(70_000, "2026-08-31"), (77_000, "2026-09-30"), (84_700, "2026-10-31")]
        )
    ]
    lines += [
        "{broken",
        "",
        json.dumps(
            {
                "account": "Nobody",
                "type": "usage",
                "metric": "x",
                "value": 1,
                "period_end": "2026-10-31",
            }
        ),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = signalbot("ingest", str(path), "--evaluate", env=cli_env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "3 events stored, 0 seen before, 2 rejected" in result.stdout
    assert "evaluated 1 accounts" in result.stdout
    assert "line 4: rejected: not JSON" in result.stderr
    assert "line 6: rejected: unknown account 'Nobody'" in result.stderr
    assert "Traceback" not in result.stderr and "[" not in result.stderr  # no bar off a terminal
    again = signalbot("ingest", str(path), env=cli_env, cwd=tmp_path)
    assert "0 events stored, 3 seen before, 2 rejected" in again.stdout


def test_ingest_a_csv_file(tmp_path, cli_env):
    path = tmp_path / "nightly.csv"
    path.write_text(
        "id,account,type,metric,value,limit,period_end,seats,feature,user,at\n"
        "u1,Globex Corp,usage,api_calls,74000,100000,2026-10-31,,,,\n"
        "a1,Globex Corp,active_users,,46,,,50,,,2026-11-20T10:00:00Z\n"
        "g1,Globex Corp,gated_feature,,,,,,sso,jane@globex.example,2026-11-21T09:12:00Z\n"
        "u2,Globex Corp,usage,api_calls,-3,100000,2026-10-31,,,,\n"
    )
    result = signalbot("ingest", str(path), env=cli_env, cwd=tmp_path)
    assert "3 events stored, 0 seen before, 1 rejected" in result.stdout
    assert "line 5: rejected: value: -3 is negative" in result.stderr


# --- impossible values: refused one by one, never the whole batch ----------------------------

GOOD = {"account": "Globex Corp", "type": "active_users", "value": 40, "at": "2026-11-20T10:00Z"}
IMPOSSIBLE = [
    ({**GOOD, "at": "9999-12-31T23:00:00-05:00"}, "at: 9999-12-31T23:00:00-05:00 is not between"),
    ({**GOOD, "at": "0001-01-01T00:00:00+05:00"}, "at: 0001-01-01T00:00:00+05:00 is not between"),
    ({**GOOD, "seats": 1e300}, "seats: 1e+300 is beyond"),
    ({**GOOD, "value": 1e300}, "value: 1e+300 is beyond"),
    ({**GOOD, "value": 3e9, "seats": 3e9}, "seats: 3e+09 is above"),
    ({**GOOD, "id": "evt\x00nul"}, "id: contains control characters"),
    ({"account": "Globex Corp", "type": "gated_feature", "feature": "s\x00o"}, "feature: contains"),
    ({"account": "New Co", "type": "account", "name": "N" * 201}, "name: at most 200 characters"),
    ({"account": "C" * 101, "type": "account", "name": "Other Co"}, "crm_id: at most 100"),
    ({"account": "\u200b\u200b", "type": "account"}, "name: needs at least one letter or digit"),
    ({"account": "Globex Corp", "type": "account", "seats": 1e30}, "seats: 1e+30 is beyond"),
    ({"account": "Globex Corp", "type": "account", "renewal_date": "9999-12-31"}, "renewal_date"),
    ({"account": "Globex Corp", "type": "account", "plan": "a\x00"}, "plan: contains control"),
]


def test_impossible_values_are_refused_one_by_one_and_the_rest_stored(api):
    client, services = api
    assert client.post("/ingest/v1/events", json=EXAMPLE).status_code == 202
    events = [GOOD] + [event for event, _ in IMPOSSIBLE] + [{**GOOD, "value": 41}]
    answer = client.post("/ingest/v1/events", json={"events": events})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == list(range(1, len(IMPOSSIBLE) + 1))
    for rejection, (_, reason) in zip(body["rejected"], IMPOSSIBLE, strict=True):
        assert reason in rejection["error"], rejection
    values = {e.value for e in stored(services)}
    assert {40, 41} <= values and 1e300 not in values


def stored(services) -> list[ProductEvent]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(ProductEvent)))


def test_deeply_nested_json_is_a_400_not_a_500(api):
    client, _ = api
    for depth in (20, 100_000):
        body = '{"events": [' + "[" * depth + "]" * depth + "]}"
        answer = client.post("/ingest/v1/events", content=body.encode())
        assert answer.status_code == 400, answer.text
        assert "nested deeper than 8 levels" in answer.json()["error"]


def test_the_cli_keeps_the_good_lines_around_an_impossible_one(tmp_path, cli_env):
    good = {**GOOD, "account": "0015g00000Globex"}
    lines = [good, {**good, "at": "9999-12-31T23:00:00-05:00"}, {**good, "seats": 1e300},
             {**good, "value": 7}]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n" + "[" * 5000 + "\n")
    result = signalbot("ingest", str(path), env=cli_env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "2 events stored, 0 seen before, 3 rejected" in result.stdout
    assert "line 2: rejected: at: 9999-12-31T23:00:00-05:00 is not between" in result.stderr
    assert "line 3: rejected: seats: 1e+300 is beyond" in result.stderr
    assert "line 5: rejected: nested deeper than 8 levels" in result.stderr
    assert "Traceback" not in result.stderr
