"""What every listener, the scheduler and the CLI share: config, sessions, the clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import utcnow
from bot.config import Config
from bot.settings import Settings
from protocol.groups import configured_groups, with_groups
from service.crm.connections import Connections
from service.groups import memberships
from storage.cache import Caches
from storage.db import make_engine, session_factory, unit_of_work


class GroupRoles:
    """The process's view of the Slack user groups the config names (process-wide state that
    `Services` owns): the config with each group's last known members merged in, re-read from
    the database at most every `ttl` seconds, or at once after `changed()`."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._key: tuple[int, float] | None = None  # (id of the file's config, read at)
        self._merged: Config | None = None

    def changed(self) -> None:
        """Membership changed in this process: read it again on the next look."""
        with self._lock:
            self._key = None

    def config(self, base: Config, factory: sessionmaker[Session]) -> Config:
        """`base` with the groups' members merged; `base` itself when it names no group."""
        if not configured_groups(base):
            return base
        with self._lock:
            now = time.monotonic()
            if self._key and self._key[0] == id(base) and now - self._key[1] < self.ttl:
                return self._merged or base
        with unit_of_work(factory) as session:
            merged = with_groups(base, memberships(session))
        with self._lock:
            self._key, self._merged = (id(base), time.monotonic()), merged
        return merged


@dataclass
class Services:
    """The bot's wiring; one per process.

    `config` is the file's configuration with the Slack user groups it names merged in
    (`GroupRoles`); `file_config` is the file's alone.
    """

    settings: Settings
    file_config: Config
    engine: Engine
    factory: sessionmaker[Session]
    clock: Callable[[], datetime] = utcnow
    delivery_due: threading.Event = field(default_factory=threading.Event)
    connections: Connections = field(default_factory=Connections)  # CRM and webhook clients
    sweep_lock: threading.Lock = field(default_factory=threading.Lock)  # SQLite: one at a time
    caches: Caches = field(default_factory=Caches)  # time zones, known people (storage/cache.py)
    groups: GroupRoles = field(default_factory=GroupRoles)  # roles from Slack user groups

    @property
    def config(self) -> Config:
        """The configuration in force: the file's, with its user groups' members merged."""
        return self.groups.config(self.file_config, self.factory)

    @config.setter
    def config(self, value: Config) -> None:
        self.file_config = value

    def groups_changed(self) -> None:
        """A user group's membership changed: the next look at `config` reads it again."""
        self.groups.changed()

    @classmethod
    def build(cls, settings: Settings, config: Config) -> Services:
        """Engine and session factory for `settings.database_url`; one pool per process."""
        pool = {} if settings.database_url.startswith("sqlite") else {
            "pool_size": settings.runtime.db_pool_size,
            # web threads or delivery threads may each hold a connection at a peak
            "max_overflow": settings.runtime.threads + settings.runtime.delivery_concurrency}
        engine = make_engine(settings.database_url, **pool)
        return cls(settings=settings, file_config=config, engine=engine,
                   factory=session_factory(engine))

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
