"""The `crm` and `webhooks` sections: where handed-off signals are written and posted."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from bot.config.yaml_source import _fail, _items, _Node, _node
from protocol.config import (
    CRM_PROVIDERS,
    CRM_STAGE_KEYS,
    SYNCED_EVENTS,
    Crm,
    Webhook,
)

_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_CRM_KEYS = ("provider", "base_url", "instance_url", "token_env", "pipeline", "stages",
             "api_version", "client_id_env", "client_secret_env", "session_timeout", "timeout",
             "poll_interval")


def _parse_crm(top: _Node) -> dict[str, Any]:
    node = top.child("crm", _CRM_KEYS)
    if node is None:
        return {}
    provider = node.get("provider", str, "none")
    if provider not in CRM_PROVIDERS:
        node.fail("provider", f"{provider!r} is not one of {', '.join(CRM_PROVIDERS)}")
    sf = provider == "salesforce"
    if node.get("base_url", str) and node.get("instance_url", str):
        node.fail("instance_url", "give base_url or instance_url, not both")
    url_key = "instance_url" if node.get("instance_url", str) or sf else "base_url"
    base_url = _http_url(node, url_key, None if sf else "https://api.hubapi.com")
    if sf and base_url is None:
        node.fail("instance_url", "is required for Salesforce (e.g. https://acme.my.salesforce.com)")
    version = str(node.get("api_version", (str, float), "62.0"))
    if not re.fullmatch(r"\d{2,3}\.\d", version):
        node.fail("api_version", f"{version!r} is not an API version like 62.0")
    crm = Crm(
        provider=provider, base_url=base_url, api_version=version,
        token_env=_env_name(node, "token_env", None if sf else "HUBSPOT_TOKEN"),
        pipeline=str(node.get("pipeline", (str, int), "default")),
        stages=_crm_stages(node),
        client_id_env=_env_name(node, "client_id_env", "SALESFORCE_CLIENT_ID" if sf else None),
        client_secret_env=_env_name(
            node, "client_secret_env", "SALESFORCE_CLIENT_SECRET" if sf else None),
        session_timeout=node.duration("session_timeout", timedelta(hours=2)),
        timeout=node.duration("timeout", timedelta(seconds=10)),
        poll_interval=_poll_interval(node),
    )
    return {"crm": crm}


def _poll_interval(node: _Node) -> timedelta:
    interval = node.duration("poll_interval", timedelta(minutes=5))
    if interval < timedelta(seconds=30):
        node.fail("poll_interval", "must be at least 30s (each poll is a CRM search)")
    return interval


def _http_url(node: _Node, name: str, default: str | None) -> str | None:
    url = node.get(name, str, default)
    if url is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        node.fail(name, f"{url!r} is not an http(s) URL")
    return url.rstrip("/") if url else url


def _env_name(node: _Node, name: str, default: str | None) -> str | None:
    value = node.get(name, str, default)
    if value is not None and not _ENV_NAME.fullmatch(value):
        node.fail(name, f"{value!r} is not an environment variable name (the secret itself "
                        "stays in the environment, never in this file)")
    return value


def _crm_stages(node: _Node) -> tuple[tuple[str, str], ...]:
    sub = node.child("stages", CRM_STAGE_KEYS)
    if sub is None:
        return ()
    stages = tuple((key, str(sub.get(key, (str, int)))) for key in CRM_STAGE_KEYS
                   if sub.get(key, (str, int)) is not None)
    for required in ("handed_off", "won", "lost"):
        if required not in dict(stages):
            sub.fail(required, "is required when stages are given")
    return stages


def _parse_webhooks(top: _Node) -> dict[str, Any]:
    items = _items(top, "webhooks", dict)
    if items is None:
        return {}
    hooks = []
    for key, raw in items:
        item = _node(top.file, key, raw, ("url", "secret_env", "events"))
        if item.get("url", str) is None:
            item.fail("url", "is required")
        if item.get("secret_env", str) is None:
            item.fail("secret_env", "is required: the variable holding the signing secret")
        events = _items(item, "events", str)
        for event_key, event in events or ():
            if event not in SYNCED_EVENTS:
                _fail(top.file, event_key, f"{event!r} is not one of {', '.join(SYNCED_EVENTS)}")
        hooks.append(Webhook(
            url=_http_url(item, "url", None), secret_env=_env_name(item, "secret_env", None),
            events=tuple(e for _, e in events) if events else SYNCED_EVENTS))
    return {"webhooks": tuple(hooks)}
