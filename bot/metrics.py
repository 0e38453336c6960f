"""Prometheus metrics, and GET /metrics.

`signalbot run` points every child process at one PROMETHEUS_MULTIPROC_DIR, so a scrape of
any web worker adds up every process (web workers and the worker). The outbox backlog is
read from the database at scrape time. /metrics answers only with SIGNALBOT_METRICS=1 or
SIGNALBOT_METRICS_TOKEN set (then `Authorization: Bearer <token>` is required).

The metric objects are module constants, as prometheus_client expects: in multiprocess
mode their values live in per-process files, not in these objects.
"""

from __future__ import annotations

import hmac
import io
import os
import time
import uuid
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from slack_bolt.request import payload_utils as payload
from slack_bolt.request.internals import parse_body

from bot import logs
from bot.heap import collection_pauses
from bot.services import Services
from storage.outbox import backlog

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
ACK_SECONDS = Histogram("signalbot_ack_seconds", "Slack request received to answered, by kind",
                        ["kind"], buckets=ACK_BUCKETS)
SLACK_REQUESTS = Counter("signalbot_slack_requests", "Slack requests by kind and outcome "
                         "(acked, refused_signature, too_large, not_handled, error)",
                         ["kind", "outcome"])
SLA_STEPS = Counter("signalbot_sla_steps", "SLA steps the sweep took (reminders, escalations "
                    "by level)", ["step", "level"])
SWEEP_SECONDS = Histogram("signalbot_sweep_seconds", "Duration of one full sweep pass",
                          buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0))
DELIVERIES = Counter("signalbot_deliveries", "Outbox delivery attempts by kind and result "
                     "(sent, skipped, retried, held, released)", ["kind", "result"])
SLACK_ERRORS = Counter("signalbot_slack_errors", "Slack API errors met while delivering, by "
                       "Slack's error string", ["error"])
CRM_WRITES = Counter("signalbot_crm_writes", "CRM and webhook writes by kind and result",
                     ["kind", "result"])
INGEST_EVENTS = Counter("signalbot_ingest_events", "Product events by result (accepted, "
                        "duplicate, rejected)", ["result"])
HTTP_REFUSED = Counter("signalbot_http_refused", "Requests refused before their body was read "
                       "(bot/guard.py), by path and reason (too_large, bad_timestamp)",
                       ["path", "reason"])
GC_PAUSES = Histogram("signalbot_gc_pause_seconds", "Garbage collections by generation: how "
                      "long each stopped its process's threads",
                      ["generation"], buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))
_OUTCOMES = {200: "acked", 401: "refused_signature", 413: "too_large", 404: "not_handled"}


def count_refused(path: str, reason: str) -> None:
    """A request the guard refused unread (`bot.guard.guarded`'s `refused`)."""
    HTTP_REFUSED.labels(path, reason).inc()


def count_delivery(kind: str, result: str, amount: int = 1) -> None:
    """One outbox attempt's result; CRM and webhook writes are counted apart too."""
    if amount <= 0:
        return
    DELIVERIES.labels(kind, result).inc(amount)
    if kind.startswith(("crm.", "webhook")):
        CRM_WRITES.labels(kind, result).inc(amount)


def report_collections() -> None:
    """Feed the garbage collections timed since the last call into `GC_PAUSES` (called
    after each Slack request, at each scrape and by the worker's heartbeat; never from the
    collector's callback, which may run while a metric's lock is held)."""
    for generation, seconds in collection_pauses():
        GC_PAUSES.labels(str(generation)).observe(seconds)


def count_steps(steps: dict[str, int]) -> None:
    """What one sweep decided: {"reminder": n, "escalation:<level>": n}."""
    for name, amount in steps.items():
        if amount:
            step, _, level = name.partition(":")
            SLA_STEPS.labels(step, level).inc(amount)


def request_kind(body: bytes, content_type: str | None) -> tuple[str, str | None]:
    """(kind, Slack's id for it) of a Slack request body, as Bolt reads it."""
    try:
        parsed = parse_body(body.decode("utf-8"), content_type)
    except Exception:  # noqa: BLE001 - an unreadable body is Bolt's to refuse
        return "unknown", None
    return kind_of(parsed)


def kind_of(parsed: dict[str, Any]) -> tuple[str, str | None]:
    """(kind, Slack's id for it) of a parsed Slack request body."""
    kinds = (("slash_command", payload.is_slash_command),
             ("view_submission", payload.is_view_submission),
             ("block_action", payload.is_action), ("options_load", payload.is_options),
             ("shortcut", payload.is_shortcut), ("event", payload.is_event))
    kind = next((name for name, test in kinds if test(parsed)), "other")
    return kind, parsed.get("trigger_id") or parsed.get("event_id")


_NAMED: ContextVar[dict[str, Any] | None] = ContextVar("signalbot_slack_request", default=None)


def name_request(body: dict[str, Any], next: Callable[[], Any]) -> Any:  # noqa: A002 - Bolt's name
    """Bolt middleware: the request's kind for the metrics and its id for the logs, from the
    body Bolt already parsed (the payload is not decoded twice on the ack path)."""
    kind, slack_id = kind_of(body)
    named = _NAMED.get()
    if named is not None:
        named["kind"] = kind
    with logs.context(request_id=slack_id or uuid.uuid4().hex[:12]):
        return next()


def instrument(slack):
    """Wrap the Slack WSGI handler: ack latency by kind, outcome. The kind is named by the
    `name_request` middleware; a request refused before it (a bad signature) is parsed here."""

    def handler(environ: dict[str, Any], start_response) -> Iterable[bytes]:
        started = time.perf_counter()
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[int] = []
        named: dict[str, Any] = {}

        def recording(line: str, headers, exc_info=None):
            status.append(int(line.split(" ", 1)[0]))
            return start_response(line, headers, exc_info)

        token = _NAMED.set(named)
        try:
            answer = slack(environ, recording)
        except Exception:
            SLACK_REQUESTS.labels(_kind(named, body, environ), "error").inc()
            raise
        finally:
            _NAMED.reset(token)
        kind = _kind(named, body, environ)
        code = status[0] if status else 500
        SLACK_REQUESTS.labels(kind, _OUTCOMES.get(code, "error" if code >= 500 else str(code)))\
            .inc()
        ACK_SECONDS.labels(kind).observe(time.perf_counter() - started)
        report_collections()
        return answer

    return handler


def _kind(named: dict[str, Any], body: bytes, environ: dict[str, Any]) -> str:
    if "kind" in named:
        return named["kind"]
    return request_kind(body, environ.get("CONTENT_TYPE"))[0]


class _Backlog:
    """Outbox gauges read from the database when scraped."""

    def __init__(self, services: Services):
        self.services = services

    def collect(self):
        with self.services.unit_of_work() as session:
            queue = backlog(session, self.services.now())
        due = GaugeMetricFamily("signalbot_outbox_oldest_due_age_seconds",
                                "Age of the oldest due, unsent outbox row (0: none)")
        due.add_metric([], queue["oldest_due_age_s"])
        held = GaugeMetricFamily("signalbot_outbox_held", "Outbox rows held for an operator")
        held.add_metric([], queue["held"])
        waiting = GaugeMetricFamily("signalbot_outbox_due", "Outbox rows due and not yet sent")
        waiting.add_metric([], queue.get("due", 0))
        return [due, held, waiting]


def respond(services: Services, environ: dict[str, Any], start_response) -> list[bytes]:
    """GET /metrics: 404 when off, 401 without the bearer token, else the exposition."""
    runtime = services.settings.runtime
    if not runtime.metrics_enabled:
        return _plain(start_response, "404 Not Found", b"not found\n")
    if runtime.metrics_token:
        scheme, _, given = (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), runtime.metrics_token.encode()):
            return _plain(start_response, "401 Unauthorized", b"bearer token required\n")
    report_collections()
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        registry.register(_Backlog(services))
        data = generate_latest(registry)
    else:  # one process (tests, the demo): this process's own numbers
        from prometheus_client import REGISTRY

        registry.register(_Backlog(services))
        data = generate_latest(REGISTRY) + generate_latest(registry)
    return _plain(start_response, "200 OK", data, CONTENT_TYPE_LATEST)


def _plain(start_response, status: str, data: bytes,
           content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]
