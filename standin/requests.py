"""Correctly signed Slack requests (slash commands, interactivity, events) for tests.

Every builder returns `(body, headers)` ready to POST to the app's `/slack/events`
endpoint (or to feed `slack_bolt.BoltRequest(body=body, headers=headers)`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from standin import views
from standin.server import APP_ID, BOT_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

VERIFICATION_TOKEN = "standin-verification-token"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_counter = itertools.count(1)
Payload = dict[str, Any]
Built = tuple[str, dict[str, str]]


def sign(secret: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """Slack signature headers for `body`: X-Slack-Request-Timestamp and X-Slack-Signature."""
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + ts.encode() + b":" + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def new_trigger_id() -> str:
    """A unique trigger_id shaped like Slack's ("12345.67890.abcdef..."), dated now."""
    return views.new_trigger_id()


def new_action_ts() -> str:
    """A unique action_ts ("1700000000.000123")."""
    return f"{int(time.time())}.{next(_counter):06d}"


def new_event_id() -> str:
    """A unique Events API event_id ("Ev0...")."""
    return f"Ev{uuid.uuid4().hex[:10].upper()}"


def default_response_url(team_id: str = TEAM_ID) -> str:
    """A response_url on a reserved .example host (never reachable; pass a stand-in one
    from `SlackStandin.response_url()` when the handler calls respond())."""
    return f"https://hooks.slack.example/commands/{team_id}/{next(_counter)}/standin"


def _form(secret: str, fields: dict[str, str], timestamp: int | None) -> Built:
    body = urlencode(fields)
    return body, {"Content-Type": FORM, **sign(secret, body, timestamp)}


def _payload(secret: str, payload: Payload, timestamp: int | None) -> Built:
    return _form(secret, {"payload": json.dumps(payload)}, timestamp)


def _user(user_id: str, team_id: str, user_name: str = "") -> Payload:
    name = user_name or user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _envelope(kind: str, user_id: str, team_id: str, trigger_id: str | None,
              user_name: str = "") -> Payload:
    return {"type": kind, "team": {"id": team_id, "domain": TEAM_DOMAIN},
            "user": _user(user_id, team_id, user_name), "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN, "trigger_id": trigger_id or new_trigger_id(),
            "is_enterprise_install": False, "enterprise": None}


def _as_view(view: Payload, team_id: str, **overrides: Any) -> Payload:
    """A view as Slack echoes it in payloads (ids filled in, overrides applied)."""
    full: Payload = {"type": "modal", "blocks": [], "private_metadata": "", "callback_id": "",
                     "state": {"values": {}}, "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
                     "clear_on_close": False, "notify_on_close": False, "external_id": "",
                     "previous_view_id": None, **view}
    full.update({k: v for k, v in overrides.items() if v is not None})
    full.setdefault("id", f"V{next(_counter):010d}")
    full.setdefault("root_view_id", full["id"])
    full.update(team_id=team_id, app_id=APP_ID, bot_id=BOT_ID, app_installed_team_id=team_id)
    return full


# --------------------------------------------------------------------------- builders


def slash_command(secret: str, *, command: str = "/signal", text: str = "", user_id: str,
                  user_name: str = "", channel_id: str = "C0GENERAL", team_id: str = TEAM_ID,
                  trigger_id: str | None = None, response_url: str | None = None,
                  channel_name: str = "general", timestamp: int | None = None) -> Built:
    """A slash command invocation (form-encoded, as Slack sends it)."""
    fields = {"token": VERIFICATION_TOKEN, "team_id": team_id, "team_domain": TEAM_DOMAIN,
              "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id,
              "user_name": user_name or user_id.lower(), "command": command, "text": text,
              "api_app_id": APP_ID, "is_enterprise_install": "false",
              "response_url": response_url or default_response_url(team_id),
              "trigger_id": trigger_id or new_trigger_id()}
    return _form(secret, fields, timestamp)


def view_submission(secret: str, *, user_id: str, view: Payload, view_id: str | None = None,
                    callback_id: str | None = None, private_metadata: str | None = None,
                    state_values: Payload, hash: str | None = None,
                    trigger_id: str | None = None, team_id: str = TEAM_ID,
                    timestamp: int | None = None) -> Built:
    """A modal submission (`payload=<json>`, type view_submission).

    `view` is the modal as the bot built it (or as the stand-in stored it); id, callback_id,
    private_metadata and hash default to the view's own values when not given.
    `state_values` is `{block_id: {action_id: {"type": ..., "value": ...}}}`.
    """
    full = _as_view(view, team_id, id=view_id, callback_id=callback_id, hash=hash,
                    private_metadata=private_metadata)
    full["state"] = {"values": state_values}
    if not full.get("callback_id"):
        raise ValueError("view_submission needs a callback_id (argument or in the view)")
    payload = {**_envelope("view_submission", user_id, team_id, trigger_id),
               "view": full, "response_urls": []}
    return _payload(secret, payload, timestamp)


def _option(selected: Payload | str) -> Payload:
    if isinstance(selected, dict):
        return selected
    return {"text": {"type": "plain_text", "text": selected, "emoji": True}, "value": selected}


def _action(action_id: str, block_id: str, value: str | None, action_ts: str | None,
            selected_option: Payload | str | None, action_type: str | None) -> Payload:
    kind = action_type or ("static_select" if selected_option is not None else "button")
    action: Payload = {"type": kind, "action_id": action_id, "block_id": block_id,
                       "action_ts": action_ts or new_action_ts()}
    if kind == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}
    if value is not None:
        action["value"] = value
    if selected_option is not None:
        action["selected_option"] = _option(selected_option)
    return action


def _message_context(channel_id: str, message_ts: str | None, message: Payload | None,
                     response_url: str | None, team_id: str) -> Payload:
    ts = message_ts or (message or {}).get("ts") or new_action_ts()
    msg = message or {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "text": "",
                      "ts": ts, "blocks": []}
    return {"container": {"type": "message", "message_ts": ts, "channel_id": channel_id,
                          "is_ephemeral": False},
            "channel": {"id": channel_id, "name": "channel"}, "message": msg,
            "response_url": response_url or default_response_url(team_id)}


def block_actions(secret: str, *, user_id: str, action_id: str, value: str | None = None,
                  block_id: str = "b", channel_id: str | None = None,
                  message_ts: str | None = None, view: Payload | None = None,
                  container: Payload | None = None, trigger_id: str | None = None,
                  action_ts: str | None = None, timestamp: int | None = None,
                  selected_option: Payload | str | None = None, action_type: str | None = None,
                  message: Payload | None = None, response_url: str | None = None,
                  team_id: str = TEAM_ID) -> Built:
    """A block_actions payload: a button click / select in a message or in a view.

    In a view when `view` is given; in a message when `channel_id` is given (`message` may be
    the stored message, e.g. from `SlackStandin.messages()`). A `selected_option` given as a
    string becomes `{"text": ..., "value": s}` and makes the action a static_select.
    """
    payload = _envelope("block_actions", user_id, team_id, trigger_id)
    payload["actions"] = [_action(action_id, block_id, value, action_ts, selected_option,
                                  action_type)]
    payload["state"] = {"values": {}}
    if view is not None:
        full = _as_view(view, team_id)
        payload.update(view=full, state=full["state"],
                       container={"type": "view", "view_id": full["id"]})
    elif channel_id is not None:
        payload.update(_message_context(channel_id, message_ts, message, response_url, team_id))
    if container is not None:
        payload["container"] = container
    return _payload(secret, payload, timestamp)


def message_shortcut(secret: str, *, user_id: str, callback_id: str, channel_id: str,
                     message_ts: str, message_text: str, message_user: str = "U0CUST0001",
                     trigger_id: str | None = None, response_url: str | None = None,
                     team_id: str = TEAM_ID, timestamp: int | None = None) -> Built:
    """A message shortcut (type message_action) on someone's message."""
    payload = _envelope("message_action", user_id, team_id, trigger_id)
    payload.update(callback_id=callback_id, action_ts=new_action_ts(), message_ts=message_ts,
                   channel={"id": channel_id, "name": "channel"},
                   message={"type": "message", "user": message_user, "ts": message_ts,
                            "text": message_text, "team": team_id},
                   response_url=response_url or default_response_url(team_id))
    return _payload(secret, payload, timestamp)


def block_suggestion(secret: str, *, user_id: str, action_id: str, value: str,
                     view: Payload | None = None, block_id: str = "b", team_id: str = TEAM_ID,
                     timestamp: int | None = None) -> Built:
    """An external_select options request (type block_suggestion); `value` is the typed text."""
    payload = _envelope("block_suggestion", user_id, team_id, None)
    del payload["trigger_id"]
    payload.update(action_id=action_id, block_id=block_id, value=value)
    if view is not None:
        full = _as_view(view, team_id)
        payload.update(view=full, container={"type": "view", "view_id": full["id"]})
    return _payload(secret, payload, timestamp)


def event_callback(secret: str, *, event: Payload, event_id: str | None = None,
                   team_id: str = TEAM_ID, retry_num: int | None = None,
                   retry_reason: str = "http_timeout", timestamp: int | None = None) -> Built:
    """An Events API delivery (JSON body), e.g. event={"type": "app_home_opened", ...}.

    `retry_num` adds X-Slack-Retry-Num / X-Slack-Retry-Reason, as Slack's redeliveries do.
    """
    now = int(time.time())
    data = {"token": VERIFICATION_TOKEN, "team_id": team_id, "api_app_id": APP_ID,
            "event": {"event_ts": f"{now}.{next(_counter):06d}", **event},
            "type": "event_callback", "event_id": event_id or new_event_id(), "event_time": now,
            "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False, "event_context": f"4-{uuid.uuid4().hex[:16]}"}
    body = json.dumps(data)
    headers = {"Content-Type": JSON, **sign(secret, body, timestamp)}
    if retry_num is not None:
        headers.update({"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason})
    return body, headers


def app_home_opened(user_id: str, tab: str = "home") -> Payload:
    """An app_home_opened event dict, for `event_callback(event=...)`."""
    return {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id[1:],
            "tab": tab, "event_ts": new_action_ts()}
