"""Every HTTP route refuses oversized bodies before reading them; Slack's timestamp is checked."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import REGISTRY

from bot.guard import SLACK_MAX_BODY
from standin import requests as slack_requests
from tests.people import SECRET


def raw_post(url: str, path: str, declared: int, sent: bytes, headers: str = "") -> str:
    """POST declaring `declared` bytes but sending only `sent`: the answer must come anyway."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{headers}Content-Length: {declared}\r\n\r\n".encode() + sent
        )
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except TimeoutError:
            return "no answer: the server is waiting for the whole body"
        return answer.decode()


def refused(path: str, reason: str) -> float:
    return REGISTRY.get_sample_value("signalbot_http_refused_total",
                                     {"path": path, "reason": reason}) or 0.0


@pytest.mark.parametrize(("path", "label"), [("/slack/events", "/slack/events"),
                                             ("/ingest/v1/events", "/ingest/v1/events"),
                                             ("/nowhere", "other")])
def test_an_oversized_body_is_refused_unread_on_every_route(slack, path, label):
    before = refused(label, "too_large")
    answer = raw_post(slack.url, path, declared=8_000_000, sent=b"x" * 1024)
    assert answer.startswith("HTTP/1.0 413") or answer.startswith("HTTP/1.1 413"), answer
    assert "larger than" in answer
    assert refused(label, "too_large") - before == 1  # counted for /metrics, by route


def test_an_unsigned_8mb_post_gets_413(slack):
    response = httpx.post(f"{slack.url}/slack/events", content=b"a" * 8_000_000, timeout=10)
    assert response.status_code == 413


def test_a_signed_request_at_the_cap_still_reaches_bolt(slack):
    body, headers = slack_requests.slash_command(SECRET, user_id="U0CSM0001", text="help")
    padded = body + "&pad=" + "p" * (SLACK_MAX_BODY - len(body) - 5)
    assert len(padded) == SLACK_MAX_BODY
    signed = {**headers, **slack_requests.sign(SECRET, padded)}
    response = httpx.post(f"{slack.url}/slack/events", content=padded.encode(), headers=signed)
    assert response.status_code == 200
    assert "/signal" in response.text


def test_the_ingest_cap_follows_its_config(slack):
    cap = slack.services.config.triggers.max_body
    answer = raw_post(slack.url, "/ingest/v1/events", declared=cap + 1, sent=b"{")
    assert " 413 " in answer.splitlines()[0]


@pytest.mark.parametrize("timestamp", ["abc", "1700000000,1700000000", "", "1.7e9"])
def test_a_malformed_slack_timestamp_is_401_not_200(slack, timestamp):
    body, headers = slack_requests.slash_command(SECRET, user_id="U0CSM0001", text="help")
    headers = {**headers, "X-Slack-Request-Timestamp": timestamp}
    before = refused("/slack/events", "bad_timestamp")
    response = httpx.post(f"{slack.url}/slack/events", content=body.encode(), headers=headers)
    assert response.status_code == 401
    assert refused("/slack/events", "bad_timestamp") - before == 1


def test_a_repeated_slack_timestamp_header_is_401(slack):
    body, headers = slack_requests.slash_command(SECRET, user_id="U0CSM0001", text="help")
    ts = headers["X-Slack-Request-Timestamp"]
    pairs = [(k, v) for k, v in headers.items()] + [("X-Slack-Request-Timestamp", ts)]
    response = httpx.post(f"{slack.url}/slack/events", content=body.encode(), headers=pairs)
    assert response.status_code == 401
