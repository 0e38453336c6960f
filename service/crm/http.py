"""Outbound HTTP for the CRM and webhooks: pooled clients, error classes, secrets, rate limits.

A `Pool` (one per process, in `service.crm.connections.Connections`) holds one `httpx.Client`
per provider and base URL (connection pooling), timeouts always set, redirects not followed.
Errors come out as two kinds the deliverer knows: `Transient` (429, 5xx, timeouts, dropped
connections: retried through the outbox, honouring the server's wait) and `Permanent` (a bad
token, a missing property: held, admins told). A host that timed out, refused the connection
or asked to wait (429/503 with Retry-After) is not called again until then: the rows behind
it fail fast instead of each waiting out a timeout, so the delivery loop keeps Slack messages
moving. HubSpot's budget is kept before it runs out: an answer saying that its burst window
has only RESERVE requests left (`X-HubSpot-RateLimit-Remaining`), or none for the day, rests
the host until the window has passed. Nothing here logs a header or a secret.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from dotenv import dotenv_values

MAX_WAIT = 3600.0  # never wait longer than an hour on a server's say-so
COOL_OFF = 30.0  # after a timeout or a refused connection, leave the host alone this long
RESERVE = 2  # requests of HubSpot's burst window left to the portal's other integrations
USER_AGENT = "signalbot (+https://github.com/signalbot)"



class Transient(Exception):
    """Busy or unreachable: try again later (after `retry_after` seconds when the server said).

    `pacing`: told to wait (429, 503 with Retry-After) or not tried at all; not a failed
    attempt, so it does not count towards giving up.
    """

    def __init__(self, error: str, retry_after: float | None = None, pacing: bool = False):
        super().__init__(error)
        self.retry_after = retry_after
        self.pacing = pacing and retry_after is not None


class Permanent(Exception):
    """Refused as it stands (bad credentials, unknown field): hold it and tell the admins.

    `quiet`: the admins were already told about this same problem recently.
    """

    def __init__(self, error: str, *, status: int | None = None, code: str | None = None,
                 quiet: bool = False):
        super().__init__(error)
        self.status = status
        self.code = code
        self.quiet = quiet


def secret(name: str | None) -> str | None:
    """A secret from the environment (or the working directory's .env), by variable name."""
    if not name:
        return None
    value = os.environ.get(name)
    if value is None and os.path.isfile(".env"):
        value = dotenv_values(".env").get(name)
    return (value or "").strip() or None


class Pool:
    """Pooled clients, and the hosts resting after a failure (not called again until then)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, float], httpx.Client] = {}
        self._resting: dict[tuple[int, str], float] = {}  # (client, host) -> monotonic time
        self._lock = threading.Lock()

    def client(self, name: str, base_url: str, timeout: timedelta) -> httpx.Client:
        """The client for one provider and base URL (created on first use)."""
        key = (name, base_url, timeout.total_seconds())
        with self._lock:
            client = self._clients.get(key)
            if client is None or client.is_closed:
                client = httpx.Client(
                    base_url=base_url,
                    timeout=httpx.Timeout(timeout.total_seconds()),
                    limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
                    headers={"User-Agent": USER_AGENT},
                    follow_redirects=False,
                )
                self._clients[key] = client
            return client

    def close(self) -> None:
        """Close every client and forget the resting hosts (shutdown, tests)."""
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            self._resting.clear()

    def send(self, client: httpx.Client, provider: str, method: str, url: str,
             **kwargs: Any) -> httpx.Response:
        """One request; a 2xx answer comes back, anything else is raised as Transient or
        Permanent.

        A 3xx is Permanent: redirects are not followed (a body and its signature must not go
        to a host nobody configured), so the URL in the config is wrong and an admin must fix it.
        """
        host = (id(client), str(client.base_url.join(url).host))
        rest = self._resting.get(host, 0.0) - time.monotonic()
        if rest > 0:
            raise Transient(f"{provider}: not tried, it failed a moment ago", max(1.0, rest),
                            pacing=True)
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            self._resting[host] = time.monotonic() + COOL_OFF
            raise Transient(f"{provider}: no answer in time ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            self._resting[host] = time.monotonic() + COOL_OFF
            raise Transient(f"{provider}: connection failed ({type(exc).__name__})") from None
        self._pace(host, response.headers)
        if response.status_code == 429 or response.status_code >= 500:
            wait = retry_after(response.headers, rate_limited=response.status_code == 429)
            if wait:
                self._resting[host] = time.monotonic() + wait
            raise Transient(f"{provider} HTTP {response.status_code}: {describe(response)}", wait,
                            pacing=True)
        if 300 <= response.status_code < 400:
            where = response.headers.get("Location", "nowhere")[:200]
            raise Permanent(f"{provider} HTTP {response.status_code}: redirected to {where}; "
                            "not followed: put the final https:// URL in the config",
                            status=response.status_code)
        if response.status_code >= 400 or response.status_code < 200:
            message, code = error_of(response)
            raise Permanent(f"{provider} HTTP {response.status_code}{f' {code}' if code else ''}: "
                            f"{message}", status=response.status_code, code=code)
        return response


    def _pace(self, host: tuple[int, str], headers: httpx.Headers) -> None:
        """Rest the host when HubSpot says its budget is (nearly) spent."""
        wait = None
        if headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
            wait = MAX_WAIT
        left = headers.get("X-HubSpot-RateLimit-Remaining", "")
        interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
        if left.isdigit() and int(left) <= RESERVE and interval.isdigit():
            wait = max(wait or 0.0, min(MAX_WAIT, int(interval) / 1000))
        if wait:
            with self._lock:
                self._resting[host] = max(self._resting.get(host, 0.0), time.monotonic() + wait)


def retry_after(headers: httpx.Headers, rate_limited: bool = True) -> float | None:
    """The server's wait: Retry-After (seconds or a date), else HubSpot's rate-limit window."""
    value = headers.get("Retry-After")
    if value:
        try:
            return min(MAX_WAIT, max(1.0, float(value)))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
                return min(MAX_WAIT, max(1.0, (when - datetime.now(UTC)).total_seconds()))
            except (TypeError, ValueError):
                pass
    if not rate_limited:
        return None
    if headers.get("X-HubSpot-RateLimit-Daily-Remaining") == "0":
        return MAX_WAIT
    interval = headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval and interval.isdigit():
        return min(MAX_WAIT, max(1.0, int(interval) / 1000))
    return None


def error_of(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from a HubSpot, Salesforce or OAuth error body; never the request."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason_phrase or "no detail")[:300], None
    if isinstance(body, list) and body and isinstance(body[0], dict):  # Salesforce
        return str(body[0].get("message", ""))[:300], body[0].get("errorCode")
    if isinstance(body, dict):
        if "error" in body and isinstance(body["error"], str):  # OAuth token endpoint
            return str(body.get("error_description") or body["error"])[:300], body["error"]
        code = body.get("category") or body.get("errorType")
        return str(body.get("message") or body)[:300], code
    return str(body)[:300], None


def describe(response: httpx.Response) -> str:
    """A short, secret-free description of an error answer."""
    message, code = error_of(response)
    return f"{code}: {message}" if code else message
