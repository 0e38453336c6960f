"""The worker's Slack client reuses its connections and answers as slack_sdk's own does."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.delivery import make_client
from bot.slack_http import IDLE_SECONDS, KeepAliveClient
from standin import SlackStandin


@pytest.fixture
def standin():
    with SlackStandin() as server:
        server.add_user("U0AE")
        yield server


def _idle_socket(client: KeepAliveClient):
    (idle,) = client.connections._idle.values()
    ((conn, _),) = idle
    return conn.sock


def test_the_worker_client_keeps_its_connection_between_calls(standin):
    client = make_client("xoxb-test", standin.base_url)
    assert isinstance(client, KeepAliveClient)
    client.chat_postMessage(channel="U0AE", text="one")
    first = _idle_socket(client)
    answer = client.chat_postMessage(channel="U0AE", text="two")
    assert _idle_socket(client) is first  # the same connection, not a new one
    assert answer["ok"] and answer["channel"] == standin.dm_channel("U0AE")
    assert [m["text"] for m in standin.messages(standin.dm_channel("U0AE"))] == ["one", "two"]


def _plain(client: WebClient):
    return WebClient(token=client.token, base_url=client.base_url, retry_handlers=[])


@pytest.mark.parametrize("fault", [
    {"error": "channel_not_found"},
    {"status": 429, "retry_after": 7},
    {"status": 503},
])
def test_a_refusal_reads_as_slack_sdk_reads_it(standin, fault):
    """The error, the status and the Retry-After the delivery code acts on are the same as
    slack_sdk's urllib client gives."""
    kept = make_client("xoxb-test", standin.base_url)
    seen = []
    for client in (_plain(kept), kept):
        standin.fail_next("chat.postMessage", **fault)
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="U0AE", text="x")
        response = refused.value.response
        seen.append((response.status_code, response.data, response.headers.get("Retry-After")))
    assert seen[0] == seen[1]
    kept.chat_postMessage(channel="U0AE", text="after")  # the connection is still usable
    assert [m["text"] for m in standin.messages(standin.dm_channel("U0AE"))] == ["after"]


def test_a_call_cut_off_once_sent_is_not_sent_again(standin):
    """Slack may have it: the error goes up (the outbox reconciles), nothing is resent."""
    client = make_client("xoxb-test", standin.base_url)
    client.chat_postMessage(channel="U0AE", text="warm")  # a kept connection, then a cut
    standin.fail_next("chat.postMessage", drop=True, keep=True)
    with pytest.raises(Exception) as cut:  # noqa: PT011 - whatever the socket says
        client.chat_postMessage(channel="U0AE", text="cut")
    assert not isinstance(cut.value, SlackApiError)
    assert [m["text"] for m in standin.messages(standin.dm_channel("U0AE"))] == ["warm", "cut"]
    assert len(standin.calls_to("chat.postMessage")) == 2
    client.chat_postMessage(channel="U0AE", text="next")  # a new connection
    assert len(standin.calls_to("chat.postMessage")) == 3


class _ClosesWhenIdle(BaseHTTPRequestHandler):
    """Answers as if it kept the connection, then closes it (a server's idle timeout)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    received: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(self.path)
        body = json.dumps({"ok": True, "channel": "D1", "ts": "1.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ClosesWhenIdle)
    _ClosesWhenIdle.received = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = make_client("xoxb-test", f"http://127.0.0.1:{server.server_port}/api/")
        client.chat_postMessage(channel="U1", text="one")
        stale = _idle_socket(client)
        threading.Event().wait(0.1)  # the server's close reaches this side
        client.chat_postMessage(channel="U1", text="two")
        assert _idle_socket(client) is not stale
        assert _ClosesWhenIdle.received == ["/api/chat.postMessage"] * 2  # each sent once
    finally:
        server.shutdown()
        server.server_close()


def test_idle_connections_are_kept_up_to_a_bound(standin):
    client = make_client("xoxb-test", standin.base_url)
    pool = client.connections
    taken = [pool.take("http", standin.base_url.split("/")[2]) for _ in range(pool.kept + 3)]
    for conn in taken:
        conn.connect()
        pool.give_back("http", standin.base_url.split("/")[2], conn)
    (idle,) = pool._idle.values()
    assert len(idle) == pool.kept
    assert sum(conn.sock is None for conn in taken) == 3  # the rest were closed
    pool.close()
    assert not pool._idle


def test_listeners_open_modals_over_the_process_clients_kept_connection(slack):
    """Bolt makes a new client (a new connection) for each request; the app hands its
    listeners the process's instead, so `/signal`'s views.open reuses a connection."""
    pool = slack.worker.client.connections
    opened, reused = pool.opened, pool.reused  # auth.test's, at start-up
    slack.open_signal_modal("U0CSM0001")
    slack.open_signal_modal("U0CSM0001")
    assert len(slack.standin.calls_to("views.open")) == 2
    assert (pool.opened, pool.reused) == (opened, reused + 2)


def test_a_connection_idle_too_long_is_not_reused(standin):
    """A NAT may have dropped it silently: a call on it would only time out."""
    client = make_client("xoxb-test", standin.base_url)
    now = [1000.0]
    client.connections.clock = lambda: now[0]
    client.chat_postMessage(channel="U0AE", text="one")
    opened = client.connections.opened
    now[0] += IDLE_SECONDS - 1
    client.chat_postMessage(channel="U0AE", text="two")
    assert client.connections.opened == opened  # reused
    now[0] += IDLE_SECONDS
    client.chat_postMessage(channel="U0AE", text="three")
    assert client.connections.opened == opened + 1
