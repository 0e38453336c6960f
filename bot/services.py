"""What every listener, the scheduler and the CLI share: config, sessions, the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.config import Config
from bot.settings import Settings
from service.crm.connections import Connections
from storage.cache import Caches
from storage.db import make_engine, session_factory, unit_of_work


@dataclass
class Services:
    """The bot's wiring; one per process."""

    settings: Settings
    config: Config
    engine: Engine
    factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    delivery_due: threading.Event = field(default_factory=threading.Event)
    connections: Connections = field(default_factory=Connections)  # CRM and webhook clients
    sweep_lock: threading.Lock = field(default_factory=threading.Lock)  # SQLite: one at a time
    caches: Caches = field(default_factory=Caches)  # time zones, known people (storage/cache.py)

    @classmethod
    def build(cls, settings: Settings, config: Config) -> Services:
        """Engine and session factory for `settings.database_url`; one pool per process."""
        pool = {} if settings.database_url.startswith("sqlite") else {
            "pool_size": settings.runtime.db_pool_size,
            # web threads or delivery threads may each hold a connection at a peak
            "max_overflow": settings.runtime.threads + settings.runtime.delivery_concurrency}
        engine = make_engine(settings.database_url, **pool)
        return cls(settings=settings, config=config, engine=engine, factory=session_factory(engine))

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction, committed on success; this process's read caches are lent to it."""
        with unit_of_work(self.factory) as session:
            yield self.caches.lend(session)

    def __deepcopy__(self, memo: dict) -> Services:
        """The process's one wiring: Bolt copies a request's context for lazy listeners, and
        they share it rather than copy engines and locks."""
        return self

    def now(self) -> datetime:
        """The current time, from the one clock."""
        return self.clock()

    def wake(self) -> None:
        """Tell this process's delivery loop that new outbox rows were committed."""
        self.delivery_due.set()
