"""Socket Mode as Slack runs it, for tests: a local WebSocket server behind apps.connections.open.

Modelled on Slack's Socket Mode reference (https://api.slack.com/apis/connections/socket,
"Using Socket Mode" on docs.slack.dev) and slack_sdk's own client
(`slack_sdk/socket_mode/client.py`, `request.py`, `response.py`):

- `apps.connections.open` takes the app-level token (`xapp-…`, never the bot token) and
  answers a one-use `url`; here a local `ws://127.0.0.1:PORT/link/?ticket=…`.
- On connect Slack sends `{"type": "hello", "num_connections", "connection_info", "debug_info"}`.
- Each delivery is an envelope `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload", "retry_attempt", "retry_reason"}`;
  the app acks with `{"envelope_id", "payload"?}` (a payload only where
  `accepts_response_payload` is true, e.g. `response_action: errors`).
- Slack may send `{"type": "disconnect", "reason": "refresh_requested" | "warning" |
  "link_disabled"}`, after which the client opens a new URL; a connection can also just drop.
- An Events API envelope that is not acked is sent again (`retry_attempt` + 1, `retry_reason`
  "timeout"); slash commands and interactivity are not: the person sees an error and tries again.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from standin.server import APP_ID

ENVELOPE_TYPES = {"slash_commands", "interactive", "events_api"}
# Slack answers a surface "did not respond" when no ack arrives within 3 seconds.
ACK_WINDOW = 3.0


@dataclass
class Delivery:
    """One envelope sent, and what came back."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    sent_at: float
    accepts: bool = False
    ack: dict[str, Any] | None = None
    acked_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def response(self) -> dict[str, Any]:
        """The ack's payload ({} for a bare ack)."""
        return (self.ack or {}).get("payload") or {}


def from_request(built: tuple[str, dict[str, str]]) -> tuple[str, dict[str, Any]]:
    """(envelope type, payload) for a request built by `standin.requests` (HTTP → Socket Mode).

    Over Socket Mode Slack sends the same payloads as over HTTP, decoded: a slash command's
    form fields as an object, an interaction's `payload=` JSON as an object, an event as is.
    """
    body, headers = built
    if headers.get("Content-Type", "").startswith("application/json"):
        return "events_api", json.loads(body)
    fields = dict(parse_qsl(body, keep_blank_values=True))
    if "payload" in fields:
        return "interactive", json.loads(fields["payload"])
    return "slash_commands", fields


class SocketModeStandin:
    """A Socket Mode endpoint attached to a `SlackStandin` (which answers apps.connections.open)."""

    def __init__(self, slack, app_token_prefix: str = "xapp-") -> None:
        self.slack = slack
        self.app_token_prefix = app_token_prefix
        self._lock = threading.RLock()
        self._connected = threading.Condition(self._lock)
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._deliveries: dict[str, Delivery] = {}
        self.hellos = 0
        self.opened = 0
        self._server = serve(self._serve, "127.0.0.1", 0, ping_interval=None)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="socket-mode-standin")
        slack.add_method("apps.connections.open", self._connections_open, token="xapp-")

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> SocketModeStandin:
        """Serve in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close every connection and stop serving."""
        self.drop()
        self._server.shutdown()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        """The local port of the WebSocket server."""
        return int(self._server.socket.getsockname()[1])

    # -- Web API side -------------------------------------------------------------------

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
            self.opened += 1
        return {"url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"}

    # -- WebSocket side -----------------------------------------------------------------

    def _serve(self, conn: ServerConnection) -> None:
        ticket = dict(parse_qsl(conn.request.path.partition("?")[2])).get("ticket")
        with self._lock:
            if ticket not in self._tickets:  # each URL is good for one connection
                conn.close(code=1008, reason="invalid ticket")
                return
            self._tickets.discard(ticket)
        conn.send(json.dumps({"type": "hello", "num_connections": 1,
                              "debug_info": {"host": "standin",
                                             "approximate_connection_time": 3600},
                              "connection_info": {"app_id": APP_ID}}))
        with self._lock:
            self._connections.append(conn)
            self.hellos += 1
            self._connected.notify_all()
        try:
            for raw in conn:
                self._on_message(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        delivery = self._deliveries.get(message.get("envelope_id") or "")
        if delivery is None or delivery.done.is_set():
            return
        if message.get("payload") and not delivery.accepts:
            message = {**message, "refused": "payload on an envelope that accepts none"}
        delivery.ack, delivery.acked_at = message, time.monotonic()
        delivery.done.set()

    def _live(self) -> list[ServerConnection]:
        with self._lock:
            return list(self._connections)

    def wait_connected(self, timeout: float = 10.0, hellos: int = 1) -> None:
        """Block until a client is connected and has had at least `hellos` hellos in all."""
        deadline = time.monotonic() + timeout
        with self._connected:
            while not (self._connections and self.hellos >= hellos):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no Socket Mode client connected")
                self._connected.wait(left)

    # -- sending -----------------------------------------------------------------------

    def send(self, kind: str, payload: dict[str, Any], *, wait: float = ACK_WINDOW * 2,
             drop_after_send: bool = False, retry_attempt: int = 0) -> Delivery:
        """Send one envelope and wait for its ack (up to `wait` s).

        drop_after_send: drop the connection right after sending, before any ack can arrive
        (the app may still act on it; its ack is lost).
        """
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {kind!r}")
        self.wait_connected()
        envelope_id = str(uuid.uuid4())
        accepts = kind != "events_api" and payload.get("type") != "block_actions"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": accepts, "retry_attempt": retry_attempt,
                    "retry_reason": "timeout" if retry_attempt else ""}
        delivery = Delivery(envelope_id, kind, payload, time.monotonic(), accepts)
        self._deliveries[envelope_id] = delivery
        conn = self._live()[-1]
        conn.send(json.dumps(envelope))
        if drop_after_send:
            self.drop()
            return delivery
        delivery.done.wait(wait)
        return delivery

    def send_request(self, built: tuple[str, dict[str, str]], **kw: Any) -> Delivery:
        """Send what `standin.requests` built for HTTP, as Socket Mode would carry it."""
        kind, payload = from_request(built)
        return self.send(kind, payload, **kw)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect, as Slack does before it recycles a connection."""
        for conn in self._live():
            conn.send(json.dumps({"type": "disconnect", "reason": reason,
                                  "debug_info": {"host": "standin"}}))

    def drop(self) -> None:
        """Drop every connection without a close frame (a reset, as when a network fails)."""
        for conn in self._live():
            sock: socket.socket = conn.socket
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
            with self._lock:
                if conn in self._connections:
                    self._connections.remove(conn)
