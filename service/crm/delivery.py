"""What an outbox sender sees of the deliverer: the `Delivery` interface and a claimed row.

`bot.delivery.Deliverer` implements `Delivery`; the senders outside `bot/` (the CRM write and
the webhook post, `service/crm/sync.py`) depend on this interface only, never on the class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from protocol.config import Config
from service.crm.connections import Connections


@dataclass
class Claimed:
    """What the sender needs of a claimed row, detached from its session."""

    id: int
    attempt: int
    key: str
    kind: str
    target: str | None
    payload: dict[str, Any]
    signal_id: int | None
    maybe_sent: bool
    started: datetime | None
    due: datetime | None = None
    # Read with the claim for a `slack.post`: its message (None: skip it) and the DM channel
    # when already known (None: opened or checked when it is sent).
    rendered: Any = None
    channel: str | None = None


class Delivery(Protocol):
    """The deliverer, as a sender uses it."""

    config: Config
    client: WebClient
    factory: sessionmaker[Session]
    worker: str  # the claimer's name; finishing a row is fenced on it and the attempt
    connections: Connections
    clock: Callable[[], datetime]

    def finish(self, row: Claimed, **values: Any) -> None:
        """Record the row's outcome (status, sent_at, last_error, …) in its own transaction."""
        ...


Sender = Callable[[Delivery, Claimed], str]  # -> "sent" | "skipped"; raises to retry or hold
