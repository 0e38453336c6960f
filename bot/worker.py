"""Background work: the SLA sweep on an APScheduler interval, and the delivery loop."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import metrics
from bot.delivery import Deliverer, make_client
from bot.groups import refresh_groups
from bot.services import Services
from service.away import periodic as away_changes
from service.crm_poll import poll_crm
from service.digest import enqueue_weekly_digest
from service.quarterly import enqueue_quarterly_review
from service.sweep import sweep
from service.triggers import periodic as evaluate_triggers
from storage import heartbeats
from storage.db import is_postgres

log = logging.getLogger(__name__)
SWEEP_BATCH = 500
# Idempotent checks run with every sweep: the weekly digest post, product-data triggers,
# reading deals back from the CRM, the quarterly review (each does nothing until it is due).
PERIODIC: tuple[Callable[[Services], Any], ...] = (away_changes, enqueue_weekly_digest,
                                                   evaluate_triggers, poll_crm,
                                                   enqueue_quarterly_review)


class Worker:
    """Runs the sweep and the deliveries; several workers may share one PostgreSQL."""

    def __init__(self, services: Services, client: WebClient | None = None,
                 periodic: Sequence[Callable[[Services], Any]] = PERIODIC):
        self.services = services
        settings = services.settings
        self.client = client or make_client(settings.slack_bot_token, settings.slack_api_url)
        self.deliverer = Deliverer(services.factory, services.config, self.client,
                                   clock=services.clock, connections=services.connections,
                                   concurrency=settings.runtime.delivery_concurrency,
                                   posts_per_minute=settings.runtime.slack_posts_per_minute,
                                   config_source=lambda: services.config)
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.periodic = tuple(periodic)
        self._token_checked: datetime | None = None

    def sweep_once(self) -> int:
        """Run every due SLA step (in batches) and queue what it causes; returns clocks handled."""
        # SQLite runs one process: one sweep at a time within it
        lock = self.services.sweep_lock if not is_postgres(self.services.engine) else None
        if lock:
            lock.acquire()
        try:
            total, started = 0, time.perf_counter()
            while True:
                steps: Counter[str] = Counter()
                with self.services.unit_of_work() as session:
                    handled = sweep(session, self.services.config, self.services.now(),
                                    limit=SWEEP_BATCH, steps=steps)
                metrics.count_steps(steps)  # after the commit: what was really decided
                total += handled
                if handled < SWEEP_BATCH:
                    break
            for check in self.periodic:
                self._safe(lambda check=check: check(self.services))  # isolated from the others
            self._safe(lambda: refresh_groups(self.services, self.client))
            metrics.SWEEP_SECONDS.observe(time.perf_counter() - started)
        finally:
            if lock:
                lock.release()
        if total:
            self.services.wake()
        return total

    def catch_up(self) -> None:
        """What a restarted bot does first: sweep all that fell due, deliver it in order."""
        self.sweep_once()
        self.deliverer.drain()

    def heartbeat(self) -> None:
        """Say this worker is alive; ask Slack about the token when the last answer is old;
        count the garbage collections timed since the last beat."""
        metrics.report_collections()
        now = self.services.now()
        token: tuple[bool, str | None] | None = None
        if self._token_checked is None or now - self._token_checked >= \
                heartbeats.TOKEN_CHECK_EVERY:
            token = self._check_token()
            self._token_checked = now
        with self.services.unit_of_work() as session:
            heartbeats.record(session, heartbeats.WORKER, now)
            if token is not None:
                heartbeats.record(session, heartbeats.SLACK_TOKEN, now, ok=token[0],
                                  detail=token[1])

    def _check_token(self) -> tuple[bool, str | None] | None:
        """(accepted, error) from auth.test; None when Slack could not be asked."""
        try:
            self.client.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if exc.response.status_code >= 500 or exc.response.status_code == 429:
                return None  # Slack is busy, not refusing: keep the last answer
            return False, error or f"HTTP {exc.response.status_code}"
        except Exception as exc:  # noqa: BLE001 - network trouble says nothing about the token
            log.warning("could not ask Slack about the token: %s", type(exc).__name__)
            return None
        return True, None

    def start(self) -> None:
        """Catch up, then sweep on the configured interval and deliver continuously."""
        self._safe(self.heartbeat)
        self._safe(self.catch_up)
        interval = self.services.config.sweep_interval.total_seconds()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_job(self._safe_sweep, "interval", seconds=interval, coalesce=True,
                               max_instances=1, misfire_grace_time=None, id="sla-sweep")
        self.scheduler.add_job(lambda: self._safe(self.heartbeat), "interval",
                               seconds=heartbeats.WORKER_EVERY.total_seconds(), coalesce=True,
                               max_instances=1, id="heartbeat")
        self.scheduler.start()
        self._thread = threading.Thread(target=self._deliver_loop, daemon=True, name="delivery")
        self._thread.start()

    def stop(self, grace: float = 10.0) -> None:
        """Stop the scheduler and the delivery loop; the attempt in flight finishes, rows
        claimed but not yet tried are released at once (not after their lease)."""
        self._stop.set()
        self.deliverer.stopping.set()
        self.services.wake()
        if self.scheduler:
            self.scheduler.shutdown(wait=False)
        if self._thread:
            self._thread.join(timeout=grace)

    def _safe_sweep(self) -> None:
        self._safe(self.sweep_once)

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():  # serve returns only on stop, or if it broke
            self._safe(lambda: self.deliverer.serve(self.services.delivery_due, self._stop))
            self._stop.wait(timeout=1.0)

    def _safe(self, job) -> None:
        try:
            job()
        except Exception:  # noqa: BLE001 - a failing pass must not kill the loop; next one retries
            log.exception("background pass failed; it will run again")
