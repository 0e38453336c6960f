"""Hygiene: the ingest token's length and its failed attempts, plain-http URLs, private files."""

from __future__ import annotations

import logging
import stat

from tests.crm_support import hubspot_fixture  # noqa: F401 - fixture
from tests.test_cli import base_env, signalbot
from tests.test_ingest import EXAMPLE, api  # noqa: F401 - fixture


def test_a_short_ingest_token_stops_the_bot_naming_the_variable(tmp_path):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s",
                   SIGNALBOT_INGEST_TOKEN="hunter2")
    result = signalbot("run", "--http", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SIGNALBOT_INGEST_TOKEN is shorter than 32 characters" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_wrong_tokens_are_logged_and_then_throttled(api, caplog):  # noqa: F811
    client, _ = api
    caplog.set_level(logging.WARNING, logger="bot.ingest_http")
    wrong = {"Authorization": "Bearer guess"}
    for _ in range(10):
        assert client.post("/ingest/v1/events", json=EXAMPLE, headers=wrong).status_code == 401
    assert caplog.text.count("ingest: refused a missing or wrong token from 127.0.0.1") == 10
    assert "guess" not in caplog.text
    throttled = client.post("/ingest/v1/events", json=EXAMPLE)  # even the right one, for now
    assert throttled.status_code == 429 and "try again in" in throttled.json()["error"]


def test_crm_check_warns_about_plain_http(tmp_path, hubspot):
    config = tmp_path / "signalbot.yml"
    config.write_text(f"crm:\n  provider: hubspot\n  base_url: {hubspot.base_url}\n"
                      "  token_env: HS_TOKEN\n")
    env = base_env(tmp_path, SIGNALBOT_CONFIG=str(config), HS_TOKEN=hubspot.token)
    result = signalbot("crm", "check", env=env, cwd=tmp_path)
    assert f"WARN     {hubspot.base_url} is http://" in result.stdout, result.stdout


def test_the_database_and_the_export_are_private(tmp_path):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert stat.S_IMODE((tmp_path / "bot.db").stat().st_mode) == 0o600
    out = tmp_path / "signals.csv"
    out.write_text("old")
    out.chmod(0o644)
    result = signalbot("export", "--since", "2026-01-01", "--format", "csv", "--output",
                       str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("signal_id,")
