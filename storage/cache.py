"""Per-process read caches for the ack path: facts that change rarely, kept for a short time.

One `Caches` belongs to each process's wiring (bot/services.py) and is lent to every session
it opens (`session.info`), so the queries that can use it find it without new parameters;
a session without one (a script, a test's own session) simply reads the database. What is
cached is never what the unit of work decides: a person's time zone, that a person's row
exists, whether the account registry has any account. A stale answer within the TTL is
harmless (a clock starts in yesterday's zone of its owner; a type-ahead is offered a minute
late).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

MISSING: Any = object()
PEOPLE_TTL = 300.0  # seconds
REGISTRY_TTL = 60.0
AWAY_TTL = 30.0  # who is away: a period set in another process is seen this late at most
KEY = "signalbot.caches"


class TtlCache:
    """A thread-safe map whose entries expire `ttl` seconds after they were put."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic,
                 limit: int = 50_000) -> None:
        self.ttl, self.clock, self.limit = ttl, clock, limit
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        """The value, or MISSING when absent or expired."""
        found = self._items.get(key)
        if found is None or found[0] < self.clock():
            return MISSING
        return found[1]

    def put(self, key: Any, value: Any) -> None:
        """Keep `value` for `ttl` seconds (the oldest half goes when the cache is full)."""
        with self._lock:
            if len(self._items) >= self.limit:
                for old in list(self._items)[: self.limit // 2]:
                    self._items.pop(old, None)
            self._items[key] = (self.clock() + self.ttl, value)

    def forget(self, key: Any) -> None:
        """Drop one entry."""
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            self._items.clear()


@dataclass
class Caches:
    """What one process keeps: people's time zones, known people, the registry's emptiness,
    the away periods not over yet (service/away.py; a hand-off asks on every submission)."""

    tz: TtlCache = field(default_factory=lambda: TtlCache(PEOPLE_TTL))
    people: TtlCache = field(default_factory=lambda: TtlCache(PEOPLE_TTL))
    registry: TtlCache = field(default_factory=lambda: TtlCache(REGISTRY_TTL))
    away: TtlCache = field(default_factory=lambda: TtlCache(AWAY_TTL))

    def lend(self, session: Session) -> Session:
        """Make these caches visible to the queries run on `session`."""
        session.info[KEY] = self
        return session


def caches_of(session: Session) -> Caches | None:
    """The caches lent to `session`, if any."""
    return session.info.get(KEY)
