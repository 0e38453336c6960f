"""What a unit of work needs from the running process, as an interface the layers below `bot/` see.

`bot.services.Services` is the one implementation; listeners and use cases name this type so they
depend on the shape, not on the wiring (tests may pass anything that has it).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from protocol.config import Config


class Runtime(Protocol):
    """The configuration, the clock, sessions and the delivery loop's wake-up."""

    config: Config

    def unit_of_work(self) -> AbstractContextManager[Session]:
        """One transaction, committed on success."""
        ...

    def now(self) -> datetime:
        """The current time, from the one clock."""
        ...

    def wake(self) -> None:
        """Tell this process's delivery loop that new outbox rows were committed."""
        ...

    def groups_changed(self) -> None:
        """A Slack user group's membership changed: `config` reads it again."""
        ...
