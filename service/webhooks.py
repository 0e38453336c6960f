"""Webhooks: a signed JSON POST for each signal event, so any other tool can follow the motion.

Each post carries:
- `X-Signalbot-Event`: the event (handed_off, acknowledged, contacted, reassigned, escalated,
  ownership_changed,
  outcome);
- `X-Signalbot-Delivery`: a delivery id, the same on every retry of one event (deduplicate on
  it: delivery is at least once);
- `X-Signalbot-Timestamp`: Unix seconds when this attempt was signed;
- `X-Signalbot-Signature`: `v1=` + hex HMAC-SHA256(secret, timestamp + "." + raw body).

Receivers call `verify(secret, timestamp, body, signature)` on the raw body bytes; it rejects
a timestamp more than `tolerance` seconds away (replays) and compares in constant time. The
header may hold several comma-separated `v1=` values (while a secret is being rotated).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from protocol.catalogue import category_label, kind_label
from protocol.config import Config
from storage.models import Signal
from storage.outbox import Outgoing

KIND = "webhook"
SIGNATURE_HEADER = "X-Signalbot-Signature"
TIMESTAMP_HEADER = "X-Signalbot-Timestamp"
EVENT_HEADER = "X-Signalbot-Event"
DELIVERY_HEADER = "X-Signalbot-Delivery"
SCHEME = "v1"
TOLERANCE = 300  # seconds


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp`: `v1=<hex>`."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(secret: str, timestamp: str | int, body: bytes, signature: str,
           tolerance: float = TOLERANCE, now: float | None = None) -> bool:
    """True when `signature` signs `timestamp.body` with `secret` and the time is fresh."""
    try:
        sent = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent) > tolerance:
        return False
    expected = sign(secret, str(timestamp).strip(), body)
    return any(hmac.compare_digest(part.strip(), expected) for part in signature.split(","))


def encode(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def headers(secret: str, timestamp: int, body: bytes, event: str, delivery: str
            ) -> dict[str, str]:
    """The headers of one attempt."""
    return {
        "Content-Type": "application/json",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


def items(config: Config, signal: Signal, event: str, detail: dict[str, Any] | None = None,
          unversioned: str = "", at: datetime | None = None) -> list[Outgoing]:
    """One outbox row per webhook that wants `event`; the body is the event as it happened.

    `unversioned` ends the key of an event that does not move the signal's version (the
    sweep's escalations); `at` is when it happened (else the signal's `updated_at`).
    """
    out = []
    for index, hook in enumerate(config.webhooks):
        if event not in hook.events:
            continue
        key = f"webhook:{index}:{signal.id}:{event}:{signal.version}{unversioned}"
        body = event_body(signal, event, key, detail, at)
        host = urlsplit(hook.url).hostname or "webhook"
        out.append(Outgoing(key=key, kind=KIND, target=host[:32],
                            payload={"url": hook.url, "event": event, "body": body},
                            signal_id=signal.id))
    return out


def event_body(signal: Signal, event: str, delivery: str,
               detail: dict[str, Any] | None = None, at: datetime | None = None
               ) -> dict[str, Any]:
    """The JSON document posted for one event (`at`: when it happened, else the signal's
    `updated_at`)."""
    return {
        "id": delivery,
        "event": event,
        "occurred_at": _iso(at or signal.updated_at),
        "signal": signal_document(signal),
        "detail": detail or {},
    }


def signal_document(signal: Signal) -> dict[str, Any]:
    """The signal as other tools see it: the five fields, owners, stage and outcome."""
    return {
        "id": signal.id,
        "version": signal.version,
        "account": {"name": signal.account.name, "crm_id": signal.account.crm_id},
        "type": {"category": signal.category, "kind": signal.kind,
                 "label": f"{category_label(signal.category)}: "
                          f"{kind_label(signal.category, signal.kind)}",
                 "detail": signal.detail},
        "buyer": {"name": signal.buyer_name, "title": signal.buyer_title},
        "timeline": {"text": signal.timeline, "date": _iso(signal.timeline_date)},
        "context": signal.note,
        "urgency": signal.urgency,
        "est_arr": _amount(signal.est_arr),
        "stage": signal.stage,
        "ownership": signal.ownership,
        "csm": signal.csm_id,
        "ae": signal.ae_id,
        "outcome": signal.outcome,
        "outcome_reason": signal.outcome_reason,
        "won_arr": _amount(signal.won_arr),
        "revisit_on": _iso(signal.revisit_on),
        "source_link": signal.message_link,
        "created_at": _iso(signal.created_at),
        "handed_off_at": _iso(signal.handed_off_at),
        "acknowledged_at": _iso(signal.acknowledged_at),
        "contacted_at": _iso(signal.contacted_at),
        "closed_at": _iso(signal.closed_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _amount(value: Any) -> str | None:
    return None if value is None else str(value)
