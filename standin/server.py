"""A local stand-in for the Slack Web API, for tests, the demo and benchmarks.

`SlackStandin` is a small stdlib HTTP server on 127.0.0.1 that answers the Web API
methods the bot uses, stores what was posted, validates Block Kit with slack_sdk's own
models, and can inject faults (429, 5xx, dropped connections, delays) on demand.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from standin.blockkit import TABLES_PER_MESSAGE, chart_errors, table_errors
from standin.forms import state_values
from standin.limits import MESSAGE_BLOCKS, MESSAGE_TEXT, VIEW_BLOCKS, view_violations, violations
from standin.rates import RateLimiter
from standin.views import TRIGGER_TTL, shown_after_update, shown_on_open, trigger_issued_at

TEAM_ID = "T0STANDIN"
TEAM_DOMAIN = "standin"
BOT_USER_ID = "U0BOT00001"
BOT_ID = "B0BOT00001"
APP_ID = "A0STANDIN1"
PERMALINK_HOST = "https://standin.slack.example"
# The bot scopes manifest.yml requests (tests/test_manifest.py keeps the two in step).
BOT_SCOPES = ("commands", "chat:write", "im:write", "im:history", "channels:history",
              "groups:history", "users:read", "users:read.email", "usergroups:read")
# "Required scopes" (bot token) on each method's page at api.slack.com/methods/<method>;
# views.*, chat.getPermalink and auth.test need none.
METHOD_SCOPES = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write", "conversations.open": "im:write",
    "users.info": "users:read", "users.lookupByEmail": "users:read.email",
    "usergroups.users.list": "usergroups:read",
}
MAX_MESSAGE_BLOCKS = MESSAGE_BLOCKS
MAX_VIEW_BLOCKS = VIEW_BLOCKS
MAX_TEXT_LENGTH = MESSAGE_TEXT
JSON_FIELDS = ("blocks", "view", "metadata", "attachments")
# Errors that answer a lookup ("no such user"); they are not counted as rejections.
LOOKUP_ERRORS = frozenset({"user_not_found", "users_not_found"})
# Calls a client makes for one conversation's messages, in order (`overlaps` watches them).
SERIAL_METHODS = frozenset({"chat.postMessage", "conversations.history"})
_STATUS_ERRORS = {429: "ratelimited", 500: "internal_error", 502: "bad_gateway",
                  503: "service_unavailable", 504: "gateway_timeout"}

Params = dict[str, Any]


# --------------------------------------------------------------------------- records


@dataclass
class Call:
    """One Web API call as received (params already decoded)."""

    method: str
    params: Params
    at: float
    status: int | None = None  # HTTP status answered; None while in flight or dropped
    error: str | None = None  # Slack error answered, if any


@dataclass
class Overlap:
    """A call that reached `channel` while another call to it was still being answered."""

    channel: str
    method: str
    at: float


@dataclass
class Rejection:
    """A call the stand-in refused (bad input, unknown message, unknown method...)."""

    method: str
    error: str
    errors: list[str]
    params: Params


@dataclass
class Fault:
    """One queued fault; see `SlackStandin.fail_next`."""

    method: str | None
    times: int
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    keep: bool = False
    drop: bool = False
    delay: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def matches(self, method: str) -> bool:
        """True when this fault applies to `method`."""
        return self.method is None or self.method == method

    @property
    def answers(self) -> bool:
        """True when the fault replaces the normal answer (not just a delay)."""
        return self.status is not None or self.error is not None or self.drop


@dataclass
class Reply:
    """What the HTTP handler writes back."""

    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class SlackError(Exception):
    """Raised by method handlers to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, errors: list[str] | None = None,
                 fields: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.errors = errors or []
        self.fields = fields or {}


# --------------------------------------------------------------------------- helpers


def ts_key(ts: str) -> tuple[int, int]:
    """Sortable key for a Slack ts ("1700000000.000100")."""
    whole, _, frac = str(ts).partition(".")
    return int(whole or 0), int((frac + "000000")[:6])


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes")


def _decode_json_fields(params: Params) -> Params:
    out = dict(params)
    for name in JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # an undecodable value stays a string; the validators refuse it
            with contextlib.suppress(json.JSONDecodeError):
                out[name] = json.loads(value)
    return out


def parse_params(query: str, body: bytes, content_type: str) -> Params:
    """Merge query-string and body params (JSON or form-encoded) and decode JSON fields."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    text = body.decode("utf-8") if body else ""
    if content_type.startswith("application/json") and text:
        decoded = json.loads(text)
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        params.update(decoded)
    elif content_type.startswith("application/x-www-form-urlencoded") and text:
        params.update(parse_qsl(text, keep_blank_values=True))
    return _decode_json_fields(params)


def _find_unknown(obj: Any, path: str) -> list[str]:
    """Paths of list entries that slack_sdk could not parse (unknown element types)."""
    found: list[str] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _find_unknown(value, f"{path}/{key}")
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            if value is None:
                found.append(f"unknown or unsupported element [json-pointer:{path}/{i}]")
            else:
                found += _find_unknown(value, f"{path}/{i}")
    return found


def _block_errors(raw: Any, path: str, unsupported: frozenset[str] = frozenset()) -> list[str]:
    if not isinstance(raw, dict):
        return [f"block must be an object [json-pointer:{path}]"]
    if raw.get("type") in unsupported:  # a workspace whose Slack predates the block type
        return [f"unsupported block type {raw['type']!r} [json-pointer:{path}]"]
    if raw.get("type") == "data_visualization":  # slack_sdk 3.48 has no model for it
        return chart_errors(raw, path)
    extra = table_errors(raw, path) if raw.get("type") == "table" else []
    try:
        block = Block.parse(raw)
        if block is None:
            return [f"unknown block type {raw.get('type')!r} [json-pointer:{path}]"]
        block.validate_json()
        return _find_unknown(block.to_dict(), path) + extra
    except Exception as exc:  # slack_sdk raises several kinds for malformed input
        return [f"{exc} [json-pointer:{path}]"]


def _duplicate_block_ids(blocks: list[Any], root: str) -> list[str]:
    ids = Counter(b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id"))
    return [f"duplicate block_id {bid!r} [json-pointer:{root}]" for bid, n in ids.items() if n > 1]


def validate_blocks(blocks: Any, limit: int = MAX_MESSAGE_BLOCKS,
                    root: str = "/blocks", unsupported: frozenset[str] = frozenset()) -> list[str]:
    """Block Kit errors for a list of blocks, as Slack would report them (empty = valid).

    `unsupported`: block types this workspace refuses (an older Slack), named in the error.
    """
    if not isinstance(blocks, list):
        return [f"blocks must be an array [json-pointer:{root}]"]
    errors = violations(blocks, limit=limit, root=root)  # Slack's limits (standin/limits.py)
    for i, raw in enumerate(blocks):
        errors += _block_errors(raw, f"{root}/{i}", unsupported)
    return errors + _duplicate_block_ids(blocks, root)


def validate_view(view: Any, allowed_types: tuple[str, ...] = ("modal", "home"),
                  unsupported: frozenset[str] = frozenset()) -> list[str]:
    """View errors (empty = valid), checked with `slack_sdk.models.views.View`."""
    if not isinstance(view, dict):
        return ["view must be an object [json-pointer:/view]"]
    if view.get("type") not in allowed_types:
        return [f"view type must be one of {allowed_types} [json-pointer:/view/type]"]
    if view.get("type") == "modal" and not view.get("title"):
        return ["modal views need a title [json-pointer:/view/title]"]
    errors = validate_blocks(view.get("blocks", []), MAX_VIEW_BLOCKS, "/view/blocks", unsupported)
    errors += [e for e in view_violations(view) if "/view/blocks" not in e]
    try:
        View(**view).validate_json()
    except Exception as exc:
        errors.append(f"{exc} [json-pointer:/view]")
    return errors


def _check_metadata(metadata: Any) -> None:
    if metadata is None or metadata == {}:
        return
    ok = (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
          and metadata["event_type"] and isinstance(metadata.get("event_payload"), dict))
    if not ok:
        raise SlackError("invalid_metadata_format",
                         ["metadata needs a string event_type and an object event_payload"])


def check_message(params: Params, unsupported: frozenset[str] = frozenset()) -> None:
    """Raise SlackError the way chat.postMessage / chat.update refuse bad content."""
    text = params.get("text") or ""
    blocks = params.get("blocks")
    if len(str(text)) > MAX_TEXT_LENGTH:
        raise SlackError("msg_too_long")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format", ["blocks must be a JSON array"])
    errors = validate_blocks(blocks, unsupported=unsupported) if blocks else []
    if errors:
        raise SlackError("invalid_blocks", errors)
    tables = sum(1 for b in blocks or [] if isinstance(b, dict) and b.get("type") == "table")
    if tables > TABLES_PER_MESSAGE:
        raise SlackError("only_one_table_allowed")
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    _check_metadata(params.get("metadata"))


def metadata_key(metadata: Any) -> str | None:
    """Canonical key of a message's metadata (`event_type` + `event_payload`), or None."""
    if not isinstance(metadata, dict) or not metadata.get("event_type"):
        return None
    payload = json.dumps(metadata.get("event_payload"), sort_keys=True, separators=(",", ":"))
    return f"{metadata['event_type']}:{payload}"


def _tz_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def _require(params: Params, name: str, error: str = "invalid_arguments") -> Any:
    value = params.get(name)
    if value in (None, ""):
        raise SlackError(error, [f"missing required field: {name}"])
    return value


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # bursts of concurrent clients must not wait for SYN retries
    standin: SlackStandin


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # a reply's headers and body are written apart: without this a kept-alive connection
    # waits for the client's delayed ACK (40 ms) before the body (Nagle's algorithm)
    disable_nagle_algorithm = True
    timeout = 30
    server: _Server

    def do_POST(self) -> None:
        """Serve a POST (every Web API method accepts POST)."""
        self._serve()

    def do_GET(self) -> None:
        """Serve a GET (query-string params)."""
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.standin.serve_http(
            self.path, body, self.headers.get("Content-Type", ""),
            self.headers.get("Authorization", ""))
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timeout)
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            # linger 0: closing sends a reset, like a dropped connection
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if isinstance(reply.body, str):
            data, ctype = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(reply.body or {}).encode(), "application/json; charset=utf-8"
        self.send_response(reply.status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


# --------------------------------------------------------------------------- the stand-in


class SlackStandin:
    """A local Slack Web API stand-in. Use as a context manager or call start()/stop()."""

    def __init__(self, port: int = 0, *, strict_users: bool = False, verbose: bool = False,
                 latency: float = 0.0, tls: ssl.SSLContext | None = None) -> None:
        """Create (not start) a stand-in on 127.0.0.1:`port` (0 = any free port).

        strict_users: refuse DMs / conversations.open to users not in the registry.
        verbose: print one line per call to stderr.
        latency: seconds every Web API call takes before it is answered (as Slack's own
        round trip does, ~100-300 ms); calls wait side by side, not one after another.
        tls: a server context (its certificate loaded): answer over HTTPS, as Slack does.
        """
        self._requested_port = port
        self._tls = tls
        self.strict_users = strict_users
        self.verbose = verbose
        self.latency = latency
        self._lock = threading.RLock()
        self._in_flight: Counter[str] = Counter()  # conversation -> calls being answered
        self._busy = 0  # Web API calls being answered right now
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._users: dict[str, dict[str, Any]] = {}
        self.unsupported_blocks: frozenset[str] = frozenset()
        self._limiter: RateLimiter | None = None
        self._limit_args: dict[str, Any] | None = None
        self._token_types: dict[str, str] = {}
        self.scopes: set[str] = set(BOT_SCOPES)  # what the installed token was granted
        self._clear()
        self.add_user(BOT_USER_ID, "signalbot", real_name="Signalbot", is_bot=True)
        self._methods: dict[str, Callable[[Params], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "usergroups.users.list": self._usergroups_users_list,
        }

    def _clear(self) -> None:
        self._calls: list[Call] = []
        self._rejections: list[Rejection] = []
        self._responses: list[tuple[str, Any]] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._opened: list[dict[str, Any]] = []
        self._shown: dict[str, dict[str, Any]] = {}  # view id -> what the person sees
        self._exchanged: set[str] = set()  # trigger ids already used
        self._homes: dict[str, dict[str, Any]] = {}
        self._usergroups: dict[str, dict[str, Any]] = {}  # id -> {"users", "enabled"}
        self._faults: list[Fault] = []
        self._overlaps: list[Overlap] = []
        self._peak = 0  # the most Web API calls answered at once
        self._last_us = 0
        self._seq = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SlackStandin:
        """Bind and serve in a daemon thread; returns self."""
        server = _Server(("127.0.0.1", self._requested_port), _Handler)
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        server.standin = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="slack-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> SlackStandin:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (only after start())."""
        if self._server is None:
            raise RuntimeError("SlackStandin is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL for `WebClient(base_url=...)`, e.g. "http://127.0.0.1:PORT/api/"."""
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str = "default") -> str:
        """A local response_url; POSTs to it (e.g. bolt's respond()) land in `responses`."""
        return f"http://127.0.0.1:{self.port}/response/{key}"

    # ----------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """Every Web API call received, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def rejections(self) -> list[Rejection]:
        """Calls refused for bad input / unknown targets (not lookups, not injected faults)."""
        with self._lock:
            return list(self._rejections)

    @property
    def responses(self) -> list[tuple[str, Any]]:
        """(key, JSON body) of every POST to a `response_url(key)`."""
        with self._lock:
            return list(self._responses)

    @property
    def ephemerals(self) -> list[dict[str, Any]]:
        """Ephemeral messages (channel, user, text, blocks, message_ts)."""
        with self._lock:
            return copy.deepcopy(self._ephemerals)

    @property
    def overlaps(self) -> list[Overlap]:
        """Calls that reached a conversation while another call to it was being answered
        (chat.postMessage, conversations.history); a client that keeps order has none."""
        with self._lock:
            return list(self._overlaps)

    @property
    def peak_in_flight(self) -> int:
        """The most Web API calls answered at the same moment since the last reset."""
        with self._lock:
            return self._peak

    def calls_to(self, method: str) -> list[Call]:
        """Calls received for one Web API method."""
        return [c for c in self.calls if c.method == method]

    def reset(self) -> None:
        """Forget calls, rejections, messages, views, faults; keep users and rate limits."""
        with self._lock:
            self._clear()
            if self._limit_args is not None:
                self._limiter = RateLimiter(**self._limit_args)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages stored in a channel, oldest first (user ids map to their DM channel)."""
        with self._lock:
            return copy.deepcopy(self._messages.get(self._resolve(channel), []))

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        """Messages in the bot's DM with `user_id`, oldest first."""
        return self.messages(self.dm_channel(user_id))

    def all_posts(self) -> list[dict[str, Any]]:
        """All stored messages across channels, in ts order."""
        with self._lock:
            msgs = [m for chan in self._messages.values() for m in chan]
            return copy.deepcopy(sorted(msgs, key=lambda m: ts_key(m["ts"])))

    def duplicates(self) -> list[tuple[str, str]]:
        """(channel, metadata key) for every metadata carried by 2+ messages in one channel."""
        out: list[tuple[str, str]] = []
        with self._lock:
            for channel, msgs in self._messages.items():
                keys = Counter(k for m in msgs if (k := metadata_key(m.get("metadata"))))
                out += [(channel, k) for k, n in keys.items() if n > 1]
        return out

    def views_opened(self) -> list[dict[str, Any]]:
        """Views passed to views.open / views.push, in order, as stored (with id, hash)."""
        with self._lock:
            return copy.deepcopy(self._opened)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Current state of a view (after any views.update), its `state` what the person sees."""
        with self._lock:
            view = copy.deepcopy(self._views.get(view_id))
            if view is not None:
                view["state"] = {"values": state_values(view, self._shown.get(view_id, {}))}
            return view

    def shown(self, view_id: str) -> dict[str, Any]:
        """What the person sees in each input of a view: {block_id: value}."""
        with self._lock:
            return copy.deepcopy(self._shown.get(view_id, {}))

    def type_into(self, view_id: str, values: dict[str, Any]) -> None:
        """The person types or picks `values` ({block_id: value}) in an open view."""
        with self._lock:
            self._shown.setdefault(view_id, {}).update(values)

    def published_home(self, user_id: str) -> dict[str, Any] | None:
        """Last home tab published for `user_id` via views.publish, or None."""
        with self._lock:
            return copy.deepcopy(self._homes.get(user_id))

    # ----------------------------------------------------------------- set-up

    def add_user(self, user_id: str, name: str | None = None, *, tz: str = "America/New_York",
                 email: str | None = None, deleted: bool = False, real_name: str | None = None,
                 is_bot: bool = False) -> dict[str, Any]:
        """Register (or replace) a user answered by users.info / users.lookupByEmail."""
        user = {"id": user_id, "name": name or user_id.lower(), "real_name": real_name or name
                or user_id, "tz": tz, "email": email, "deleted": deleted, "is_bot": is_bot}
        with self._lock:
            self._users[user_id] = user
        return dict(user)

    def add_message(self, channel: str, text: str, *, user: str = "U0CUST0001",
                    blocks: list[Any] | None = None, metadata: dict[str, Any] | None = None,
                    thread_ts: str | None = None) -> dict[str, Any]:
        """Seed a message (e.g. a customer's) as if someone else had posted it."""
        with self._lock:
            msg = self._store(self._resolve(channel), {"text": text, "blocks": blocks,
                                                      "metadata": metadata, "thread_ts": thread_ts})
            msg.update(user=user, bot_id=None)
            return copy.deepcopy(msg)

    def set_usergroup(self, group_id: str, users: list[str], *, enabled: bool = True) -> None:
        """Create or replace a user group (what `usergroups.users.list` answers)."""
        with self._lock:
            self._usergroups[group_id] = {"users": list(users), "enabled": enabled}

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel id with a user: "D" + the user id without its first letter."""
        return "D" + user_id[1:]

    def fail_next(self, method: str | None, times: int = 1, *, status: int | None = None,
                  error: str | None = None, retry_after: int | None = None, keep: bool = False,
                  drop: bool = False, delay: float | None = None,
                  fields: dict[str, Any] | None = None) -> SlackStandin:
        """Queue a fault for the next `times` calls to `method` (None = any method), FIFO.

        status=429 answers HTTP 429 + Retry-After (default 1); status=5xx answers that status.
        error="..." answers HTTP 200 {"ok": false, "error": ...}. drop=True closes the socket
        without answering. keep=True applies the call (message stored) before failing.
        delay=seconds sleeps before answering; with no other fault the call succeeds late.
        fields: more of the error answer, e.g. {"needed": "groups:history"} for missing_scope.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = Fault(method, times, status, error, retry_after, keep, drop, delay,
                      dict(fields or {}))
        with self._lock:
            self._faults.append(fault)
        return self

    def refuse_block_types(self, *types: str) -> None:
        """Answer `invalid_blocks` naming any of these block types, as a workspace on an older
        Slack does (e.g. `data_visualization` before June 2026). No types: accept them all."""
        with self._lock:
            self.unsupported_blocks = frozenset(types)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def rate_limit(self, per_channel_per_second: float = 1.0, burst: float = 5,
                   workspace_per_minute: float | None = None, random_429: float = 0.0,
                   seed: int | None = None, *, tiers: bool = False,
                   posts_per_minute: float | None = None) -> SlackStandin:
        """Turn on Slack-like rate limiting (429 + Retry-After when exceeded), standin/rates.py.

        Per-channel token buckets apply to chat.postMessage (1 a second, bursts of `burst`);
        `posts_per_minute` adds Slack's workspace-wide ceiling on chat.postMessage;
        `tiers` limits every other method per workspace by its Slack tier (Tier 3: 50 a
        minute, Tier 4: 100); `workspace_per_minute` is one flat bucket per method instead;
        `random_429` is the probability any call gets a spurious 429.
        """
        args = {"per_channel_per_second": per_channel_per_second, "burst": burst,
                "workspace_per_minute": workspace_per_minute, "random_429": random_429,
                "seed": seed, "tiers": tiers, "posts_per_minute": posts_per_minute}
        with self._lock:
            self._limit_args = args
            self._limiter = RateLimiter(**args)
        return self

    def rate_limit_off(self) -> None:
        """Turn rate limiting off."""
        with self._lock:
            self._limit_args = self._limiter = None

    # ----------------------------------------------------------------- request flow

    def serve_http(self, path: str, body: bytes, content_type: str, auth: str) -> Reply:
        """Answer one HTTP request (called by the handler thread)."""
        parts = urlsplit(path)
        if parts.path.startswith("/response/"):
            return self._webhook(parts.path.removeprefix("/response/"), body)
        if not parts.path.startswith("/api/"):
            return Reply(404, {"ok": False, "error": "not_found"})
        method = parts.path.removeprefix("/api/")
        try:
            params = parse_params(parts.query, body, content_type)
        except (ValueError, UnicodeDecodeError):
            refused = self._refuse(method, {}, SlackError("invalid_json"))
            return self._record_reply(self._record(method, {}), refused)
        call = self._record(method, params)
        conversation = self._enter(method, params)
        try:
            reply = self._answer(method, params, auth)
            if self.latency:
                time.sleep(self.latency)  # outside the lock: other calls go on meanwhile
        finally:
            self._leave(conversation)
        return self._record_reply(call, reply)

    def _enter(self, method: str, params: Params) -> str | None:
        """Count a call in flight; note it if its conversation already has one (a client
        that sends to one conversation two at a time cannot keep their order)."""
        channel = params.get("channel")
        conversation = self._resolve(str(channel)) if channel and method in SERIAL_METHODS \
            else None
        with self._lock:
            self._busy += 1
            self._peak = max(self._peak, self._busy)
            if conversation is not None:
                if self._in_flight[conversation]:
                    self._overlaps.append(Overlap(conversation, method, time.time()))
                self._in_flight[conversation] += 1
        return conversation

    def _leave(self, conversation: str | None) -> None:
        with self._lock:
            self._busy -= 1
            if conversation is not None:
                self._in_flight[conversation] -= 1

    def _webhook(self, key: str, body: bytes) -> Reply:
        try:
            payload: Any = json.loads(body or b"{}")
        except ValueError:
            payload = body.decode("utf-8", "replace")
        if isinstance(payload, dict) and payload.get("blocks") is not None:
            # a response_url answers a refusal as HTTP 400 with the bare error, no details
            try:
                check_message(payload, self.unsupported_blocks)
            except SlackError as err:
                with self._lock:
                    self._rejections.append(Rejection("response_url", err.error, err.errors,
                                                      payload))
                return Reply(400, err.error)
        with self._lock:
            self._responses.append((key, payload))
        return Reply(200, "ok")

    def _record(self, method: str, params: Params) -> Call:
        call = Call(method, params, time.time())
        with self._lock:
            self._calls.append(call)
        return call

    def _record_reply(self, call: Call, reply: Reply) -> Reply:
        with self._lock:
            call.status = None if reply.drop else reply.status
            if isinstance(reply.body, dict) and not reply.body.get("ok", True):
                call.error = reply.body.get("error")
        if self.verbose:
            outcome = "dropped" if reply.drop else f"{reply.status} {call.error or 'ok'}"
            print(f"standin: {call.method} -> {outcome}", file=sys.stderr, flush=True)
        return reply

    def add_method(self, name: str, handler: Callable[[Params], dict[str, Any]],
                   token: str = "xoxb-") -> None:
        """Answer Web API method `name` with `handler`; it takes tokens starting `token`."""
        with self._lock:
            self._methods[name] = handler
            self._token_types[name] = token

    def _answer(self, method: str, params: Params, auth: str) -> Reply:
        if not auth.startswith("Bearer "):
            return self._refuse(method, params, SlackError("not_authed"))
        if not auth.startswith(f"Bearer {self._token_types.get(method, 'xoxb-')}"):
            # apps.connections.open takes only an app-level token; the rest only the bot's
            return self._refuse(method, params, SlackError("not_allowed_token_type"))
        fault = self._take_fault(method)
        if fault is not None:
            return self._faulted(fault, method, params)
        retry_after = self._rate_check(method, params)
        if retry_after is not None:
            return _ratelimited(retry_after)
        return self._apply(method, params)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _rate_check(self, method: str, params: Params) -> int | None:
        with self._lock:
            if self._limiter is None:
                return None
            channel = params.get("channel")
            return self._limiter.check(method, self._resolve(channel) if channel else None)

    def _faulted(self, fault: Fault, method: str, params: Params) -> Reply:
        result = self._apply(method, params) if fault.keep or not fault.answers else None
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            return Reply(drop=True)
        if fault.status is not None:
            return _status_reply(fault)
        if fault.error is not None:
            return Reply(200, {"ok": False, "error": fault.error, **fault.fields})
        return result or Reply(200, {"ok": True})

    def _check_scope(self, method: str, params: Params) -> None:
        """Refuse a call the token has no scope for, as Slack does (needed/provided)."""
        needed = METHOD_SCOPES.get(method)
        if method == "conversations.history":
            needed = _history_scope(str(params.get("channel") or ""))
        if needed and needed not in self.scopes:
            raise SlackError("missing_scope", fields={
                "needed": needed, "provided": ",".join(sorted(self.scopes))})

    def _apply(self, method: str, params: Params) -> Reply:
        handler = self._methods.get(method)
        try:
            if handler is None:
                raise SlackError("unknown_method")
            with self._lock:
                self._check_scope(method, params)
            with self._lock:
                body = {"ok": True, **handler(params)}
                # Slack names the token's scopes on every answer (x-oauth-scopes header)
                return Reply(200, body, {"x-oauth-scopes": ",".join(sorted(self.scopes))})
        except SlackError as err:
            return self._refuse(method, params, err)
        except Exception:  # a bug in the stand-in itself: make it loud
            traceback.print_exc()
            return Reply(500, {"ok": False, "error": "standin_internal_error"})

    def _refuse(self, method: str, params: Params, err: SlackError) -> Reply:
        body: dict[str, Any] = {"ok": False, "error": err.error, **err.fields}
        if err.errors:
            body["errors"] = err.errors
        if err.error not in LOOKUP_ERRORS:
            with self._lock:
                self._rejections.append(Rejection(method, err.error, err.errors, params))
        return Reply(200, body)

    # ----------------------------------------------------------------- store helpers

    def _next_ts(self) -> str:
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _resolve(self, channel: str) -> str:
        """User ids (U…/W…) stand for the bot's DM with that user."""
        channel = str(channel)
        return self.dm_channel(channel) if channel[:1] in ("U", "W") else channel

    def _check_dm_target(self, channel: str) -> None:
        if channel[:1] not in ("U", "W"):
            return
        user = self._users.get(channel)
        if user is None and self.strict_users:
            raise SlackError("channel_not_found")
        if user is not None and user["deleted"]:
            raise SlackError("is_archived")

    def _store(self, channel: str, params: Params) -> dict[str, Any]:
        ts = self._next_ts()
        msg = {"channel": channel, "ts": ts, "text": params.get("text") or "",
               "blocks": params.get("blocks"), "metadata": params.get("metadata") or None,
               "thread_ts": params.get("thread_ts"), "user": BOT_USER_ID, "bot_id": BOT_ID,
               "updated": 0, "edited_ts": None}
        self._messages.setdefault(channel, []).append(msg)
        return msg

    def _find(self, channel: str, ts: str) -> dict[str, Any]:
        for msg in self._messages.get(self._resolve(channel), []):
            if msg["ts"] == ts:
                return msg
        raise SlackError("message_not_found")

    def _api_message(self, msg: dict[str, Any], with_metadata: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "user": msg["user"], "text": msg["text"],
                               "ts": msg["ts"], "team": TEAM_ID}
        if msg["bot_id"]:
            out.update(bot_id=msg["bot_id"], app_id=APP_ID)
        if msg["blocks"]:
            out["blocks"] = copy.deepcopy(msg["blocks"])
        if msg["thread_ts"]:
            out["thread_ts"] = msg["thread_ts"]
        if msg["edited_ts"]:
            out["edited"] = {"user": msg["user"], "ts": msg["edited_ts"]}
        if with_metadata and msg["metadata"]:
            out["metadata"] = copy.deepcopy(msg["metadata"])
        return out

    # ----------------------------------------------------------------- methods: auth, chat

    def _auth_test(self, params: Params) -> dict[str, Any]:
        return {"url": "https://standin.slack.example/", "team": "Standin", "user": "signalbot",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "is_enterprise_install": False}

    def _chat_post_message(self, params: Params) -> dict[str, Any]:
        target = str(_require(params, "channel", "channel_not_found"))
        check_message(params, self.unsupported_blocks)
        self._check_dm_target(target)
        msg = self._store(self._resolve(target), params)
        return {"channel": msg["channel"], "ts": msg["ts"], "message": self._api_message(msg)}

    def _chat_update(self, params: Params) -> dict[str, Any]:
        channel = str(_require(params, "channel", "channel_not_found"))
        msg = self._find(channel, str(_require(params, "ts", "message_not_found")))
        check_message({**{k: msg[k] for k in ("text", "blocks")}, **params},
                      self.unsupported_blocks)
        for name in ("text", "blocks"):
            if name in params:
                msg[name] = params[name] or ([] if name == "blocks" else "")
        if "metadata" in params:
            msg["metadata"] = params["metadata"] or None
        msg["updated"] += 1
        msg["edited_ts"] = self._next_ts()
        return {"channel": msg["channel"], "ts": msg["ts"], "text": msg["text"],
                "message": self._api_message(msg)}

    def _chat_post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._resolve(_require(params, "channel", "channel_not_found"))
        user = _require(params, "user", "user_not_in_channel")
        check_message(params)
        ts = self._next_ts()
        self._ephemerals.append({"channel": channel, "user": user, "text": params.get("text"),
                                 "blocks": params.get("blocks"), "message_ts": ts})
        return {"message_ts": ts}

    def _chat_get_permalink(self, params: Params) -> dict[str, Any]:
        channel = self._resolve(_require(params, "channel", "channel_not_found"))
        ts = str(_require(params, "message_ts", "message_not_found"))
        link = f"{PERMALINK_HOST}/archives/{channel}/p{ts.replace('.', '')}"
        return {"channel": channel, "permalink": link}

    # ----------------------------------------------------------------- methods: conversations

    def _conversations_open(self, params: Params) -> dict[str, Any]:
        if params.get("channel"):
            return {"no_op": True, "already_open": True, "channel": {"id": params["channel"]}}
        users = _require(params, "users", "users_list_not_supplied")
        ids = users if isinstance(users, list) else [u.strip() for u in str(users).split(",")]
        for user_id in ids:
            self._check_open_target(user_id)
        if len(ids) == 1:
            channel = self.dm_channel(ids[0])
        else:
            digest = hashlib.sha1(",".join(sorted(ids)).encode()).hexdigest()
            channel = "G" + digest[:9].upper()
        opened = channel in self._messages
        self._messages.setdefault(channel, [])
        return {"no_op": opened, "already_open": opened, "channel": {"id": channel}}

    def _check_open_target(self, user_id: str) -> None:
        user = self._users.get(user_id)
        if user is None and self.strict_users:
            raise SlackError("user_not_found")
        if user is not None and user["deleted"]:
            raise SlackError("user_disabled")

    def _conversations_history(self, params: Params) -> dict[str, Any]:
        channel = self._resolve(_require(params, "channel", "channel_not_found"))
        low, high = ts_key(params.get("oldest") or "0"), params.get("latest")
        inclusive = _truthy(params.get("inclusive"))
        msgs = [m for m in self._messages.get(channel, [])
                if not m["thread_ts"] or m["thread_ts"] == m["ts"]]
        msgs = [m for m in msgs if _in_range(ts_key(m["ts"]), low, high, inclusive)]
        msgs.sort(key=lambda m: ts_key(m["ts"]), reverse=True)
        return self._page(msgs, params)

    def _conversations_replies(self, params: Params) -> dict[str, Any]:
        channel = self._resolve(_require(params, "channel", "channel_not_found"))
        ts = str(_require(params, "ts", "thread_not_found"))
        msgs = [m for m in self._messages.get(channel, [])
                if m["ts"] == ts or m["thread_ts"] == ts]
        if not msgs:
            raise SlackError("thread_not_found")
        return self._page(sorted(msgs, key=lambda m: ts_key(m["ts"])), params)

    def _page(self, msgs: list[dict[str, Any]], params: Params) -> dict[str, Any]:
        start = int(params.get("cursor") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 999))
        chunk = msgs[start:start + limit]
        more = start + limit < len(msgs)
        with_md = _truthy(params.get("include_all_metadata"))
        return {"messages": [self._api_message(m, with_md) for m in chunk], "has_more": more,
                "pin_count": 0,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    # ----------------------------------------------------------------- methods: views

    def _checked_view(self, params: Params, allowed: tuple[str, ...]) -> dict[str, Any]:
        view = params.get("view")
        errors = validate_view(view, allowed, self.unsupported_blocks)
        if errors:
            raise SlackError("invalid_arguments", errors)
        return copy.deepcopy(view)

    def _save_view(self, view: dict[str, Any], view_id: str | None = None,
                   previous: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._seq):010d}"
        old = self._views.get(view_id, {})
        view.update(id=view_id, team_id=TEAM_ID, app_id=APP_ID, bot_id=BOT_ID,
                    hash=f"{int(time.time())}.{next(self._seq):08x}",
                    state={"values": {}}, root_view_id=old.get("root_view_id", view_id),
                    previous_view_id=old.get("previous_view_id", previous),
                    private_metadata=view.get("private_metadata", ""),
                    callback_id=view.get("callback_id", ""),
                    external_id=view.get("external_id", ""))
        self._views[view_id] = view
        return copy.deepcopy(view)

    def _exchange_trigger(self, params: Params) -> None:
        """Slack's trigger rules (standin/views.py): well formed, under 3 s old, used once."""
        trigger = str(_require(params, "trigger_id", "invalid_trigger_id"))
        issued = trigger_issued_at(trigger)
        if issued is None:
            raise SlackError("invalid_trigger_id")
        if trigger in self._exchanged:
            raise SlackError("exchanged_trigger_id")
        if time.time() - issued > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        self._exchanged.add(trigger)

    def _views_open(self, params: Params) -> dict[str, Any]:
        view = self._checked_view(params, ("modal",))
        self._exchange_trigger(params)
        stored = self._save_view(view)
        self._shown[stored["id"]] = shown_on_open(stored)
        self._opened.append(copy.deepcopy(stored))
        return {"view": stored}

    def _views_push(self, params: Params) -> dict[str, Any]:
        return self._views_open(params)

    def _views_update(self, params: Params) -> dict[str, Any]:
        view_id = params.get("view_id") or self._by_external_id(params.get("external_id"))
        if not view_id:
            raise SlackError("invalid_arguments", ["view_id or external_id is required"])
        view = self._checked_view(params, ("modal",))
        current = self._views.get(view_id)
        if current is None:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        self._shown[view_id] = shown_after_update(current, self._shown.get(view_id, {}), view)
        return {"view": self._save_view(view, view_id)}

    def _by_external_id(self, external_id: str | None) -> str | None:
        if not external_id:
            return None
        for view_id, view in self._views.items():
            if view.get("external_id") == external_id:
                return view_id
        raise SlackError("not_found")

    def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id = _require(params, "user_id")
        view = self._checked_view(params, ("home",))
        current = self._homes.get(user_id)
        if current and params.get("hash") and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._save_view(view, current["id"] if current else None)
        self._homes[user_id] = stored
        return {"view": copy.deepcopy(stored)}

    # ----------------------------------------------------------------- methods: users

    def _api_user(self, user: dict[str, Any]) -> dict[str, Any]:
        profile = {"real_name": user["real_name"], "display_name": user["name"],
                   "real_name_normalized": user["real_name"],
                   "display_name_normalized": user["name"], "team": TEAM_ID}
        if user["email"] and "users:read.email" in self.scopes:  # users.info page: email
            profile["email"] = user["email"]  # only with users:read.email
        return {"id": user["id"], "team_id": TEAM_ID, "name": user["name"],
                "real_name": user["real_name"], "deleted": user["deleted"],
                "is_bot": user["is_bot"], "is_admin": False, "tz": user["tz"],
                "tz_label": user["tz"], "tz_offset": _tz_offset(user["tz"]), "profile": profile}

    def _users_info(self, params: Params) -> dict[str, Any]:
        user = self._users.get(_require(params, "user", "user_not_found"))
        if user is None:
            raise SlackError("user_not_found")
        return {"user": self._api_user(user)}

    def _users_lookup_by_email(self, params: Params) -> dict[str, Any]:
        email = str(_require(params, "email", "users_not_found")).lower()
        for user in self._users.values():
            if (user["email"] or "").lower() == email:
                return {"user": self._api_user(user)}
        raise SlackError("users_not_found")

    # ----------------------------------------------------------------- methods: user groups

    def _usergroups_users_list(self, params: Params) -> dict[str, Any]:
        """usergroups.users.list (api.slack.com/methods/usergroups.users.list): `usergroup`
        required, `include_disabled` lets a disabled group answer, `team_id` matters only to
        org-level tokens (ignored here, as for a workspace token); answers `users`, a list of
        user ids. An unknown group (or a disabled one without `include_disabled`) is
        `no_such_subteam`; `plan_upgrade_required` (a free workspace) via fail_next."""
        group = self._usergroups.get(str(_require(params, "usergroup")))
        include_disabled = str(params.get("include_disabled", "")).lower() in ("1", "true")
        if group is None or not (group["enabled"] or include_disabled):
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}


def _history_scope(channel: str) -> str:
    """conversations.history's scope by conversation type (its method page): public
    channels:history, private groups:history, DMs im:history, group DMs mpim:history.
    The stand-in tells them by id: C… public, G… private, D… a DM."""
    if channel.startswith("D") or channel[:1] in ("U", "W"):
        return "im:history"
    return "groups:history" if channel.startswith("G") else "channels:history"


def _in_range(key: tuple[int, int], low: tuple[int, int], high: str | None,
              inclusive: bool) -> bool:
    top = ts_key(high) if high else None
    if inclusive:
        return key >= low and (top is None or key <= top)
    return key > low and (top is None or key < top)


def _ratelimited(retry_after: int) -> Reply:
    return Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})


def _status_reply(fault: Fault) -> Reply:
    error = fault.error or _STATUS_ERRORS.get(fault.status or 500, "fatal_error")
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return Reply(fault.status or 500, {"ok": False, "error": error}, headers)
