"""`status`, `crm check` and `admin show`: a rich table in a terminal, aligned text in a pipe,
and `--json` with the stable shape the README documents."""

from __future__ import annotations

import io
import json

from freezegun import freeze_time

from bot.crm_cli import check
from tests.conftest import AE
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    hubspot_crm,
    hubspot_fixture,
)
from tests.flow import log, worker
from tests.test_cli import base_env, signalbot
from tests.test_progress import _in_a_terminal

ROSTER = """roster:
  managers: {U0AE00001: U0MGR0001, U0AE00002: U0MGR0001}
  admins: [U0ADMIN001]
teams:
  - {name: Enterprise, members: [U0AE00001], group: S0ENTERPR}
  - {name: SMB, members: [U0AE00002]}
sla:
  policies:
    - {name: SMB hot, match: {teams: [SMB], urgency: [hot]}, hot: {ack: 2h, contact: 8h}}
"""


def _ready(tmp_path) -> dict[str, str]:
    config = tmp_path / "signalbot.yml"
    config.write_text(ROSTER)
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-test", SIGNALBOT_CONFIG=str(config))
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    return env


def test_status_table_and_json(tmp_path):
    env = _ready(tmp_path)
    plain = signalbot("status", env=env, cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "held (not retried)  0" in plain.stdout and "oldest due, unsent  none" in plain.stdout
    data = json.loads(signalbot("status", "--json", env=env, cwd=tmp_path).stdout)
    assert set(data) == {"schema", "schema_head", "outbox", "slack_paused"}
    assert data["slack_paused"] is None and "Slack delivery      running" in plain.stdout
    assert data["outbox"] == {"oldest_due_unsent": None, "oldest_due_age_s": 0.0, "held": 0,
                              "due": 0}
    status, screen = _in_a_terminal(["status"], env, tmp_path)
    assert status == 0 and "held (not retried)" in screen and "┃" in screen + "│"


def test_status_says_when_slack_delivery_is_paused(tmp_path):
    from datetime import UTC, datetime

    from service.slack_pause import pause
    from storage.db import make_engine, session_factory, unit_of_work

    env = _ready(tmp_path)
    engine = make_engine(env["DATABASE_URL"])
    with unit_of_work(session_factory(engine)) as session:
        pause(session, "token_revoked", None, datetime.now(UTC))
    engine.dispose()
    data = json.loads(signalbot("status", "--json", env=env, cwd=tmp_path).stdout)
    assert "token_revoked" in data["slack_paused"] and "SLACK_BOT_TOKEN" in data["slack_paused"]
    assert "paused: Slack refused" in signalbot("status", env=env, cwd=tmp_path).stdout


def test_admin_show_table_and_json(tmp_path):
    env = _ready(tmp_path)
    data = json.loads(signalbot("admin", "show", "--json", env=env, cwd=tmp_path).stdout)
    assert data.pop("policies") == [
        {"name": "SMB hot", "match": "team SMB; urgency hot", "windows": "hot ack 2h/contact 8h",
         "hours": "calendar time", "steps": "reminders at 0.5, 0.9; escalation climbs after "
         "one ack window"},
        {"name": "default", "match": "every hand-off",
         "windows": "hot ack 4h/contact 1d; warm ack 1d/contact 3d; watch review 7d",
         "hours": "calendar time", "steps": "reminders at 0.5, 0.9; escalation climbs after "
         "one ack window"}]
    assert data == {
        "roster": [{"person": "U0AE00001", "name": None, "manager": "U0MGR0001",
                    "manager_name": None, "set_in": "config"},
                   {"person": "U0AE00002", "name": None, "manager": "U0MGR0001",
                    "manager_name": None, "set_in": "config"}],
        "admins": [{"person": "U0ADMIN001", "name": None, "source": "yaml"}],
        "groups": [{"group": "S0ENTERPR", "members": 0, "read_at": None, "error": None}],
        "group_changes": [], "gaps": [],
        "teams": [{"name": "Enterprise", "members": ["U0AE00001"], "group": "S0ENTERPR"},
                  {"name": "SMB", "members": ["U0AE00002"], "group": None}], "away": []}
    plain = signalbot("admin", "show", env=env, cwd=tmp_path).stdout.splitlines()
    assert plain[0] == "Roster (person → manager)"
    assert plain[2].split() == ["U0AE00001", "—", "U0MGR0001", "—", "config"]
    teams = plain.index("Teams (in the config's order)")
    assert plain[teams + 2].split() == ["Enterprise", "U0AE00001", "S0ENTERPR"]
    assert plain[teams + 3].split() == ["SMB", "U0AE00002", "-"]
    policies = plain.index("SLA policies (first match wins; the default is last)")
    assert plain[policies + 2].startswith("SMB hot")
    assert plain[policies + 3].startswith("default")
    status, screen = _in_a_terminal(["admin", "show"], env, tmp_path)
    assert status == 0 and "U0MGR0001" in screen and "\x1b[" in screen


def test_crm_check_json(sqlite_url, standin, hubspot, monkeypatch):  # noqa: F811
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        log(services)
        worker(services, standin).deliverer.drain()
    out = io.StringIO()
    assert check(services, out=out, as_json=True) == 0
    report = json.loads(out.getvalue())
    assert set(report) == {"provider", "target", "checks", "definitions", "ok"}
    assert report["provider"] == "HubSpot" and report["ok"] is True
    assert {"status": "ok", "text": "token: accepted (portal 4242)"} in report["checks"]
    assert any(c["text"].startswith(f"owner <@{AE}>") for c in report["checks"])
