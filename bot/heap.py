"""The garbage collector in long-running processes: the startup heap frozen, pauses timed."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from bot.metrics import time_collection

log = logging.getLogger(__name__)


def settle_heap() -> None:
    """Collect once, freeze what is left (everything the process built to start), and from
    then on time each collection (`signalbot_gc_pause_seconds`).

    CPython's full collection walks every tracked object. A web process holds ~100k of them
    after startup (Bolt, slack_sdk, SQLAlchemy's mappers, the config), nearly all alive until
    it exits, and each full collection stopped all of its threads for 90-180 ms under load
    (docs/benchmarks.md, finding 16): the acks in flight waited. Frozen objects are never
    walked again, so later collections see only what was built since.
    """
    gc.collect()
    gc.freeze()
    log.debug("startup heap frozen: %d objects", gc.get_freeze_count())
    if not any(isinstance(watch, PauseTimer) for watch in gc.callbacks):
        gc.callbacks.append(PauseTimer())


class PauseTimer:
    """A `gc.callbacks` entry: each collection's pause into `signalbot_gc_pause_seconds`."""

    def __init__(self) -> None:
        self.started = 0.0  # collections run one at a time, under the GIL

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        else:
            time_collection(info["generation"], time.perf_counter() - self.started)
