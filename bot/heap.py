"""The garbage collector in long-running processes: the startup heap frozen, pauses timed."""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from typing import Any

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect once, freeze what is left (everything the process built to start), and from
    then on time each collection (`collection_pauses`).

    CPython's full collection walks every tracked object. A web process holds ~100k of them
    after startup (Bolt, slack_sdk, SQLAlchemy's mappers, the config), nearly all alive until
    it exits, and each full collection stopped all of its threads for 90-180 ms under load
    (docs/benchmarks.md, finding 16): the acks in flight waited. Frozen objects are never
    walked again, so later collections see only what was built since.
    """
    gc.collect()
    gc.freeze()
    log.debug("startup heap frozen: %d objects", gc.get_freeze_count())
    if _timer() is None:
        gc.callbacks.append(PauseTimer())


def collection_pauses() -> list[tuple[int, float]]:
    """(generation, seconds) of each collection timed since the last call; taken away."""
    timer = _timer()
    return timer.drain() if timer is not None else []


class PauseTimer:
    """A `gc.callbacks` entry that notes each collection's pause.

    It only appends to a bounded deque: a collection can start inside any code, a metric's
    non-reentrant lock held included, so the metrics are fed later (`collection_pauses`)."""

    def __init__(self, keep: int = 10_000) -> None:
        self.started = 0.0  # collections run one at a time, under the GIL
        self.pauses: deque[tuple[int, float]] = deque(maxlen=keep)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self.started))

    def drain(self) -> list[tuple[int, float]]:
        """The pauses noted so far, oldest first; they are forgotten here."""
        taken = []
        while True:  # threads drain at once: each takes what it pops
            try:
                taken.append(self.pauses.popleft())
            except IndexError:
                return taken


def _timer() -> PauseTimer | None:
    return next((watch for watch in gc.callbacks if isinstance(watch, PauseTimer)), None)
