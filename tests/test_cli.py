"""The `signalbot` command as an admin runs it: errors in plain words, a real bot over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from standin import requests as slack_requests
from tests.people import AE, CSM, MGR, SECRET
from tests.support import VALID_SIGNAL, state_values, wait_for

TRIAL_CONFIG = f"""
timezone: America/New_York
sla:
  hot:   {{ack: 2s, contact: 6s}}
  warm:  {{ack: 4s, contact: 10s}}
  watch: {{review: 7d}}
scheduler:
  sweep_interval: 1s
roster:
  managers: {{{AE}: {MGR}}}
  admins: [U0REVOPS1]
"""


def signalbot(*args: str, env: dict[str, str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SIGNALBOT_"))}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        }
    )
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_tokens_name_the_variables_without_a_traceback(tmp_path):
    result = signalbot("run", "--http", env=base_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "SLACK_SIGNING_SECRET" in result.stderr
    assert "README" in result.stderr and "Traceback" not in result.stderr


def test_a_bad_config_file_names_the_file_and_key(tmp_path):
    bad = tmp_path / "signalbot.yml"
    bad.write_text("sla:\n  hot: {ack: soon}\n")
    env = base_env(
        tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", SIGNALBOT_CONFIG=str(bad)
    )
    result = signalbot("db", "check", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert str(bad) in result.stderr and "sla.hot.ack" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_refuses_an_out_of_date_schema(tmp_path, standin):
    env = base_env(
        tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", SLACK_API_URL=standin.base_url
    )
    result = signalbot("run", "--http", "--port", str(free_port()), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "signalbot db upgrade" in result.stderr
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    assert signalbot("db", "check", env=env, cwd=tmp_path).returncode == 0


@pytest.fixture
def running_bot(tmp_path, standin):
    config = tmp_path / "signalbot.yml"
    config.write_text(TRIAL_CONFIG)
    port = free_port()
    env = base_env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-trial",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=standin.base_url,
        SIGNALBOT_CONFIG=str(config),
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--http",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--migrate",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=20)
        yield url
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)  # web processes and the worker stop gracefully
        print(out[-5000:])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def post(url: str, built) -> httpx.Response:
    body, headers = built
    return httpx.post(f"{url}/slack/events", content=body.encode(), headers=headers, timeout=5)


def test_healthz_reports_the_database_and_the_backlog(running_bot):
    body = httpx.get(f"{running_bot}/healthz").json()
    assert body["ok"] is True and body["database"] == "ok"
    assert body["outbox"]["held"] == 0


def test_bad_signatures_and_stale_timestamps_are_refused(running_bot):
    body, headers = slack_requests.slash_command("wrong-secret", user_id=CSM)
    assert post(running_bot, (body, headers)).status_code == 401
    stale = int(time.time()) - 6 * 60
    assert (
        post(
            running_bot, slack_requests.slash_command(SECRET, user_id=CSM, timestamp=stale)
        ).status_code
        == 401
    )


def test_trial_with_second_long_slas_escalates_to_the_manager(running_bot, standin):
    started = time.monotonic()
    response = post(running_bot, slack_requests.slash_command(SECRET, user_id=CSM, text="Globex"))
    assert response.status_code == 200 and time.monotonic() - started < 3
    view = wait_for(lambda: standin.views_opened())[-1]
    assert (
        post(
            running_bot,
            slack_requests.view_submission(
                SECRET, user_id=CSM, view=view, state_values=state_values(view, VALID_SIGNAL)
            ),
        ).status_code
        == 200
    )
    wait_for(lambda: standin.dm_messages(AE), timeout=10)
    escalation = wait_for(lambda: standin.dm_messages(MGR), timeout=15)
    assert "Missed SLA" in str(escalation[0]["blocks"])
    assert standin.rejections == [] and standin.duplicates() == []


def test_worker_once_catches_up_and_exits(tmp_path, standin):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_API_URL=standin.base_url)
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    result = signalbot("worker", "--once", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    status = signalbot("status", "--json", env=env, cwd=tmp_path)
    assert '"held": 0' in status.stdout
