"""The bot's log: one line per record, never a request body (bot.logs, as the CLI sets it up)."""

from __future__ import annotations

import io
import logging
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from bot.logs import one_line, setup
from tests.people import SECRET
from tests.support import SlackDriver, wait_for
from tests.test_cli import base_env, free_port

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
FORGED = "2026-12-01 00:00:00,000 ERROR signalbot: forged"


@pytest.fixture
def log_stream():
    """The CLI's logging set-up, writing into a buffer; the test's own handlers restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup(stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def bot(log_stream, sqlite_services, standin):
    """The bot started after logging is set up, as `signalbot run` does."""
    driver = SlackDriver.start(sqlite_services, standin, SECRET)
    yield driver
    driver.stop()


def assert_one_line_each(text: str) -> None:
    for line in text.splitlines():
        assert LINE.match(line), f"a log line that is not a record of its own: {line!r}"


def test_an_unsigned_request_is_logged_without_its_body(bot, log_stream):
    body = f"token=x&text=SECRET-BODY-MARKER\n{FORGED}\n".encode()
    headers = {"X-Slack-Request-Timestamp": "1700000000", "X-Slack-Signature": "v0=00"}
    response = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers)
    assert response.status_code == 401
    text = log_stream.getvalue()
    assert "Invalid request signature" in text  # the refusal is logged...
    assert "SECRET-BODY-MARKER" not in text  # ...without the body
    assert "forged" not in text
    assert_one_line_each(text)


def test_a_logged_value_with_newlines_stays_on_its_line(bot, log_stream):
    path = "/x%0A" + FORGED.replace(" ", "%20")
    with socket.create_connection(("127.0.0.1", bot.server.server_port), timeout=5) as conn:
        conn.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n".encode())
        assert b" 413 " in conn.recv(1024)
    text = log_stream.getvalue()
    assert "refused POST /x\\n2026-12-01" in text
    assert_one_line_each(text)


def test_a_traceback_is_one_line(log_stream):
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("signalbot.test").exception("listener failed: %s", "a\r\nb\x1b[31m")
    text = log_stream.getvalue()
    assert text.count("\n") == 1
    assert "listener failed: a\\r\\nb\\x1b[31m" in text
    assert "Traceback (most recent call last):\\n" in text


def test_one_line_escapes_every_control_character():
    assert one_line("a\u2028b\u2029c\x00d\x7fe\tf") == "a\\u2028b\\u2029c\\x00d\\x7fe\\tf"


def test_signalbot_run_logs_a_forged_request_on_one_line_without_its_body(tmp_path, standin):
    """The whole CLI: `signalbot run --http` as an operator starts it, its stderr read back."""
    port = free_port()
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-trial", SLACK_SIGNING_SECRET=SECRET,
                   SLACK_API_URL=standin.base_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--http", "--host", "127.0.0.1", "--port",
         str(port), "--migrate", "--no-worker"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url), timeout=30)
        body = f"token=x&text=SECRET-BODY-MARKER\n{FORGED}\n".encode()
        forged = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"}
        assert httpx.post(f"{url}/slack/events", content=body, headers=forged).status_code == 401
        big = httpx.post(f"{url}/slack/events", content=b"x" * 600_000, headers=forged)
        assert big.status_code == 413
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert "Invalid request signature" in out and "refused POST /slack/events" in out, out
    assert "SECRET-BODY-MARKER" not in out and "forged" not in out


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
