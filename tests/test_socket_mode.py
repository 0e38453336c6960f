"""The core flows over Socket Mode, as most internal installs run: envelopes in, acks back.

The bot runs exactly as `signalbot run --socket` wires it (`bot.app.socket_mode_handler`);
the stand-in answers `apps.connections.open` and speaks Slack's Socket Mode protocol.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from blocks import card
from bot.app import create_app, socket_mode_handler
from bot.delivery import make_client
from bot.worker import Worker
from standin import requests as slack_requests
from standin.forms import state_values
from standin.socket_mode import SocketModeStandin
from storage.models import Signal
from tests.people import AE, CSM, SECRET
from tests.support import VALID_SIGNAL, wait_for

APP_TOKEN = "xapp-1-A0STANDIN1-1-standin"


@dataclass
class SocketDriver:
    services: object
    standin: object
    socket: SocketModeStandin
    handler: object
    worker: Worker

    def command(self, user: str, text: str = "", **kw):
        return self.socket.send_request(
            slack_requests.slash_command(SECRET, user_id=user, text=text, **kw))

    def open_modal(self, user: str) -> dict:
        before = len(self.standin.views_opened())
        delivery = self.command(user)
        assert delivery.ack is not None, "the slash command was not acked"
        return wait_for(lambda: self.standin.views_opened()[before:])[-1]

    def submit(self, view: dict, user: str, values: dict, **kw):
        built = slack_requests.view_submission(
            SECRET, user_id=user, view=view, state_values=state_values(view, values))
        return self.socket.send_request(built, **kw)

    def press(self, action_id: str, signal_id: int, user: str):
        return self.socket.send_request(slack_requests.block_actions(
            SECRET, user_id=user, action_id=action_id, value=str(signal_id),
            channel_id=self.standin.dm_channel(user)))


@pytest.fixture
def sock(sqlite_services, standin) -> Iterator[SocketDriver]:
    socket = SocketModeStandin(standin).start()
    client = make_client("xoxb-test", standin.base_url)
    handler = socket_mode_handler(create_app(sqlite_services, client), APP_TOKEN,
                                  ping_interval=1)
    handler.connect()
    socket.wait_connected()
    yield SocketDriver(sqlite_services, standin, socket, handler, Worker(sqlite_services, client))
    handler.close()
    socket.stop()


def stored(services) -> int:
    with services.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Signal))


def test_connection_uses_the_app_token_and_gets_hello(sock):
    [call] = sock.standin.calls_to("apps.connections.open")
    assert call.error is None and sock.socket.hellos == 1
    assert not sock.standin.rejections


def test_the_bot_token_cannot_open_a_connection(standin):
    SocketModeStandin(standin)  # registers apps.connections.open
    client = make_client("xoxb-test", standin.base_url)
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as exc:
        client.apps_connections_open(app_token="xoxb-test")
    assert exc.value.response["error"] == "not_allowed_token_type"


def test_capture_to_acknowledge_over_socket_mode(sock):
    view = sock.open_modal(CSM)
    bad = sock.submit(view, CSM, {**VALID_SIGNAL, "buyer_name": "  "})
    assert bad.response.get("response_action") == "errors"
    assert "buyer_name" in bad.response["errors"]
    assert stored(sock.services) == 0

    at_ack: list[int] = []
    good = sock.submit(view, CSM, VALID_SIGNAL)
    at_ack.append(stored(sock.services))
    assert good.ack is not None and good.response == {}
    assert at_ack == [1]  # committed before the ack left
    sock.worker.deliverer.drain()
    [handoff] = sock.standin.dm_messages(AE)
    assert "Globex Corp" in handoff["text"]

    with sock.services.unit_of_work() as session:
        signal_id = session.scalar(select(Signal.id))
    pressed = sock.press(card.ACKNOWLEDGE, signal_id, AE)
    assert pressed.ack is not None
    sock.worker.deliverer.drain()
    updates = sock.standin.calls_to("chat.update")
    assert updates and all("Acknowledged" in str(u.params["blocks"]) for u in updates)
    assert not sock.standin.rejections


def test_ack_leaves_only_after_the_commit(sock, monkeypatch):
    """The stand-in reads the database the moment the ack arrives."""
    seen: list[int] = []
    real = sock.socket._on_message

    def on_message(raw):
        seen.append(stored(sock.services))
        real(raw)

    monkeypatch.setattr(sock.socket, "_on_message", on_message)
    view = sock.open_modal(CSM)
    seen.clear()
    assert sock.submit(view, CSM, VALID_SIGNAL).ack is not None
    assert seen and seen[-1] == 1


def test_disconnect_and_drop_lose_nothing_and_do_nothing_twice(sock):
    view = sock.open_modal(CSM)
    sock.socket.disconnect("refresh_requested")  # Slack recycles the connection
    wait_for(lambda: sock.socket.hellos >= 2, timeout=10)
    assert len(sock.standin.calls_to("apps.connections.open")) == 2

    # the connection drops right after the submission went out: its ack is lost
    lost = sock.submit(view, CSM, VALID_SIGNAL, drop_after_send=True)
    assert lost.ack is None
    wait_for(lambda: sock.socket.hellos >= 3, timeout=15)  # the client reconnects by itself
    # The reset can reach the app before it read the frame (a busy machine): the kernel then
    # discards it, as on a real network. So the submission was acted on once or not at all;
    # either way the person sees an error and submits the same modal again, and it is one.
    with contextlib.suppress(AssertionError):
        wait_for(lambda: stored(sock.services) == 1, timeout=3)
    again = sock.submit(view, CSM, VALID_SIGNAL)
    assert again.ack is not None and again.response.get("response_action") != "errors"
    wait_for(lambda: stored(sock.services) == 1)
    sock.worker.deliverer.drain()
    assert len(sock.standin.dm_messages(AE)) == 1
    assert not sock.standin.duplicates()


def test_events_arrive_over_socket_mode(sock):
    event = slack_requests.event_callback(SECRET, event=slack_requests.app_home_opened(AE))
    assert sock.socket.send_request(event).ack is not None
    sock.worker.deliverer.drain()
    wait_for(lambda: sock.standin.published_home(AE))


def test_an_event_redelivered_after_a_drop_is_answered_once(sock):
    """Slack sends an unacked Events API envelope again (retry_attempt 1) on a new connection."""
    event = {"type": "message", "channel_type": "im", "user": AE, "text": "hello?",
             "channel": sock.standin.dm_channel(AE), "ts": "1795000000.000100"}
    built = slack_requests.event_callback(SECRET, event=event)
    assert sock.socket.send_request(built, drop_after_send=True).ack is None
    wait_for(lambda: sock.socket.hellos >= 2, timeout=15)
    assert sock.socket.send_request(built, retry_attempt=1).ack is not None
    sock.worker.deliverer.drain()
    assert len(sock.standin.dm_messages(AE)) == 1
