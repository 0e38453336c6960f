"""The startup heap is frozen before a process serves, and each collection's pause is timed
(`bot.heap`): a full collection over it stalled every ack in flight (benchmarks, finding 16)."""

from __future__ import annotations

import gc
import threading

import pytest
from alembic import command

from bot import cli, serve_cli
from bot.heap import PauseTimer, collection_pauses, settle_heap
from bot.metrics import GC_PAUSES, report_collections
from bot.runtime_settings import Runtime
from bot.server import Server
from storage.db import alembic_config
from tests.test_metrics import sample


@pytest.fixture
def settled():
    """settle_heap's effects on this test process, undone afterwards."""
    yield
    gc.unfreeze()
    gc.callbacks[:] = [watch for watch in gc.callbacks if not isinstance(watch, PauseTimer)]


def _pauses(generation: int) -> float:
    return sample("signalbot_gc_pause_seconds_count", generation=str(generation))


def test_the_startup_heap_is_frozen_and_later_pauses_are_timed(settled):
    built_at_startup = [{"n": n} for n in range(10_000)]
    settle_heap()
    assert gc.get_freeze_count() >= len(built_at_startup)
    settle_heap()  # twice (a reload): still one timer
    assert sum(isinstance(watch, PauseTimer) for watch in gc.callbacks) == 1
    collection_pauses()
    before = _pauses(2), _pauses(0)
    gc.collect()
    gc.collect(0)
    assert (_pauses(2), _pauses(0)) == before  # noted, not yet reported
    report_collections()
    assert (_pauses(2), _pauses(0)) == (before[0] + 1, before[1] + 1)
    assert collection_pauses() == []


def test_a_collection_inside_a_metrics_update_does_not_wait_for_its_lock(settled):
    """A collection may start while a metric's lock is held (its update allocates): the
    timer must not take that lock again. With a non-reentrant lock held here, a collection
    that reported straight into the metrics would block forever."""
    settle_heap()
    collection_pauses()
    held = GC_PAUSES.labels("0")._sum._lock  # the lock a report of generation 0 takes
    finished = threading.Event()

    def collect_holding_the_lock() -> None:
        with held:
            gc.collect(0)
        finished.set()

    worker = threading.Thread(target=collect_holding_the_lock, daemon=True)
    worker.start()
    assert finished.wait(5), "a garbage collection blocked on a metric's lock"
    assert [generation for generation, _ in collection_pauses()] == [0]


def test_each_web_process_settles_its_heap_after_building_the_app(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr("bot.server.settle_heap", lambda: calls.append("settled"))
    server = Server(Runtime(), "127.0.0.1", 0, lambda: calls.append("built") or "the app")
    assert server.load() == "the app"
    assert calls == ["built", "settled"]


def test_the_serving_worker_settles_its_heap_and_a_one_off_run_does_not(
        sqlite_services, monkeypatch):
    command.stamp(alembic_config(sqlite_services.settings.database_url), "head")
    calls: list[str] = []
    monkeypatch.setattr(serve_cli, "settle_heap", lambda: calls.append("settled"))
    monkeypatch.setattr(serve_cli, "_wait_for_stop", lambda: calls.append("serving"))
    monkeypatch.setattr("bot.worker.Worker.start", lambda self: calls.append("started"))
    monkeypatch.setattr("bot.worker.Worker.stop", lambda self, grace: calls.append("stopped"))
    once = cli.parser().parse_args(["worker", "--once"])
    assert once.handler(once, sqlite_services) == 0
    assert calls == []
    serving = cli.parser().parse_args(["worker"])
    assert serving.handler(serving, sqlite_services) == 0
    assert calls == ["settled", "started", "serving", "stopped"]


def test_the_pauses_kept_are_bounded_and_threads_draining_at_once_share_them():
    timer = PauseTimer()
    for n in range(20_000):
        timer.pauses.append((0, n))
    taken: list[list] = [[] for _ in range(4)]

    def drain(into: list) -> None:
        while timer.pauses:
            into += timer.drain()

    threads = [threading.Thread(target=drain, args=(box,)) for box in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(n for box in taken for _, n in box) == list(range(10_000, 20_000))
