"""The bot's log: one line per record, never a request body (bot.logs, as the CLI sets it up)."""

from __future__ import annotations

import io
import logging
import re
import socket

import httpx
import pytest

from bot.logs import one_line, setup
from tests.people import SECRET
from tests.support import SlackDriver

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
