"""How the bot runs: server processes and limits, pools, shutdown, metrics, logs.

Every value comes from a `SIGNALBOT_*` environment variable (README, "Settings"); a bad
one stops the bot with a SettingsError naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _cores() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Runtime:
    """Server, pool, shutdown, metrics and log settings (defaults suit one small VM)."""

    web_workers: int = field(default_factory=_cores)
    threads: int = 8
    max_connections: int = 100  # per web worker; more wait in the listen backlog
    request_timeout: float = 10.0  # the whole request (headers and body) must arrive by then
    keepalive: float = 5.0
    shutdown_grace: float = 10.0
    db_pool_size: int = 10  # per process
    delivery_concurrency: int = 16  # conversations the worker sends to at once
    slack_posts_per_minute: float | None = None  # pace chat.postMessage workspace-wide
    # The worker's niceness: deliveries can wait a moment, acks (3 s) cannot, so on a busy
    # host the web processes get the CPU first. None: 10 on PostgreSQL, 0 on SQLite, whose
    # one write lock the acks share with the worker (a worker put aside holding it stalls
    # them: measured, docs/benchmarks.md finding 12).
    worker_nice: int | None = None
    metrics: bool = False
    metrics_token: str | None = field(default=None, repr=False)
    log_format: str = "plain"

    @property
    def metrics_enabled(self) -> bool:
        """/metrics answers when SIGNALBOT_METRICS=1 or a bearer token is set."""
        return self.metrics or bool(self.metrics_token)


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        value = kind(text)
        if value <= 0:
            raise ValueError
        return value

    return parse


def _niceness(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 19:
        raise ValueError
    return value


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _log_format(text: str) -> str:
    if text.lower() not in ("plain", "json"):
        raise ValueError
    return text.lower()


VARIABLES: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "SIGNALBOT_WORKERS": ("web_workers", _positive(int), "a whole number above 0"),
    "SIGNALBOT_THREADS": ("threads", _positive(int), "a whole number above 0"),
    "SIGNALBOT_MAX_CONNECTIONS": ("max_connections", _positive(int), "a whole number above 0"),
    "SIGNALBOT_REQUEST_TIMEOUT": ("request_timeout", _positive(float), "seconds above 0"),
    "SIGNALBOT_KEEPALIVE": ("keepalive", _positive(float), "seconds above 0"),
    "SIGNALBOT_SHUTDOWN_GRACE": ("shutdown_grace", _positive(float), "seconds above 0"),
    "SIGNALBOT_DB_POOL_SIZE": ("db_pool_size", _positive(int), "a whole number above 0"),
    "SIGNALBOT_DELIVERY_CONCURRENCY": ("delivery_concurrency", _positive(int),
                                       "a whole number above 0"),
    "SIGNALBOT_SLACK_POSTS_PER_MINUTE": ("slack_posts_per_minute", _positive(float),
                                         "a number above 0"),
    "SIGNALBOT_WORKER_NICE": ("worker_nice", _niceness, "a whole number from 0 to 19"),
    "SIGNALBOT_METRICS": ("metrics", _flag, "1 or 0"),
    "SIGNALBOT_METRICS_TOKEN": ("metrics_token", str, "a token"),
    "SIGNALBOT_LOG_FORMAT": ("log_format", _log_format, "plain or json"),
}


def runtime_from(get: Callable[[str], str | None]) -> tuple[Runtime, list[str], list[str]]:
    """The Runtime for the variables `get` returns; plus problems and the variables at fault."""
    values: dict[str, Any] = {}
    problems, names = [], []
    for name, (attr, parse, expected) in VARIABLES.items():
        text = get(name)
        if text is None:
            continue
        try:
            values[attr] = parse(text)
        except ValueError:
            problems.append(f"{name} must be {expected}")
            names.append(name)
    return Runtime(**values), problems, names


def with_overrides(runtime: Runtime, overrides: Mapping[str, Any]) -> Runtime:
    """`runtime` with command-line values (None: not given) in place of the settings."""
    from dataclasses import replace

    return replace(runtime, **{k: v for k, v in overrides.items() if v is not None})
