"""Delivery: claim due outbox rows, send them to Slack outside any transaction, record the result.

Never lost: a row stays until Slack confirms it. Never twice: every post carries its outbox
key in the message metadata, and a row whose last attempt may have reached Slack (timeout,
dropped connection, 5xx) is reconciled against the conversation's history before it is sent
again. slack_sdk's own retries are off (`retry_handlers=[]`): this loop is the only one.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Row, update
from sqlalchemy.orm import Session, sessionmaker

from blocks.card import APPROVER
from blocks.charts import CHART, without_charts
from bot import logs, metrics
from bot.clock import utcnow
from bot.config import Config
from bot.slack_http import KeepAliveClient
from service import slack_pause
from service.crm.connections import Connections
from service.crm.delivery import Claimed, Sender
from service.crm.http import Permanent, Transient
from service.crm.sync import SENDERS as CRM_SENDERS
from service.home import home_refreshes, render_home
from service.messages import (
    Rendered,
    cards_of,
    render_card,
    render_posts,
    settled_posts,
)
from service.sweep import owner_unreachable
from storage.bulk import insert_rows
from storage.db import is_postgres, unit_of_work
from storage.models import Card, OutboxMessage, Person, Signal
from storage.outbox import (
    POST_KIND,
    OutboxStatus,
    Outgoing,
    SentPost,
    claim_due,
    enqueue,
    finish,
    finish_sent,
    next_due,
)
from storage.queries import dm_channels, remember_profile
from storage.queries import person as known_person

log = logging.getLogger(__name__)

METADATA_TYPE = "signalbot_outbox"
# The person is gone. Not `account_inactive`: Slack answers that about the bot's own token.
UNREACHABLE = {"user_not_found", "user_disabled", "cannot_dm_bot"}
PERMANENT = UNREACHABLE | {
    "channel_not_found", "invalid_blocks", "invalid_arguments", "not_in_channel", "is_archived",
    "msg_too_long", "no_text", "restricted_action", "message_not_found", "cant_update_message",
}
MAX_ATTEMPTS = 25
BURST, BURST_WINDOW = 3, timedelta(seconds=3)  # ~1 message a second per conversation
# Conversations sent to at once (one call in flight in each). Slack's round trip is
# ~100-300 ms, so one at a time caps a worker near 5 messages a second whatever the
# limits; 16 keeps the pool well under Slack's workspace ceilings (SIGNALBOT_DELIVERY_
# CONCURRENCY). Rows a pass claims per lane it could start: lanes are a few rows long.
CONCURRENCY = 16
ROWS_PER_LANE = 4
# Seconds between claims while there is no backlog (see `serve`). A claim costs a dozen
# statements whatever it holds, so under a steady stream of hand-offs a longer wait means
# fewer, larger claims (the worker's CPU a post: 0.2 s 1.25 ms, 0.5 s 1.00 ms); the price
# is up to this much delay on a card and, when Slack's pace is what holds the posts back,
# a little slower catch-up (docs/benchmarks.md, finding 18).
CLAIM_EVERY = 0.5
POST_METHOD = "chat.postMessage"
PROFILE_TTL = timedelta(days=1)


class Deferred(Exception):
    """Not sent now, on purpose (rate limit or pacing); try again at `until`."""

    def __init__(self, until: datetime):
        super().__init__(until.isoformat())
        self.until = until


class Budget:
    """A workspace-wide token bucket shared by the delivery threads: `per_minute` tokens a
    minute, ten seconds' worth as a burst (Slack grants "generous burst behavior")."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60
        self.capacity = max(1.0, self.rate * 10)
        self.tokens = self.capacity
        self.stamp: datetime | None = None
        self.lock = threading.Lock()

    def take(self, now: datetime) -> datetime | None:
        """Take one token (None), or say when the next one comes."""
        with self.lock:
            if self.stamp is not None:
                elapsed = max(0.0, (now - self.stamp).total_seconds())
                self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return now + timedelta(seconds=(1 - self.tokens) / self.rate)


class Unreachable(Exception):
    """The person is gone from Slack (deleted, deactivated); `known` if we knew already."""

    def __init__(self, user_id: str, known: bool = False):
        super().__init__(user_id)
        self.known = known


@dataclass
class Tally:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0
    held: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        """Count `other`'s results in this one."""
        for name in ("sent", "retried", "held", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors

    @property
    def moved(self) -> bool:
        """True when a row was finished (sent, skipped or held)."""
        return bool(self.sent or self.skipped or self.held)


@dataclass
class Sent:
    """A post Slack confirmed (its channel and ts), to record against its outbox row."""

    row: Claimed
    channel: str
    ts: str
    at: datetime


def make_client(token: str | None, base_url: str | None, timeout: int = 10) -> WebClient:
    """A WebClient with slack_sdk's automatic retries off (the outbox retries instead) whose
    calls reuse their connections (bot/slack_http.py)."""
    kwargs: dict[str, Any] = {"token": token, "timeout": timeout, "retry_handlers": []}
    if base_url:
        kwargs["base_url"] = base_url
    return KeepAliveClient(**kwargs)


class Deliverer:
    """Sends what the outbox holds; one per process, safe to run beside other replicas."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        config: Config,
        client: WebClient,
        *,
        clock: Callable[[], datetime] = utcnow,
        worker: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        connections: Connections | None = None,
        concurrency: int = CONCURRENCY,
        posts_per_minute: float | None = None,
        config_source: Callable[[], Config] | None = None,
    ):
        self.factory = factory
        self._config = config
        self._config_source = config_source  # the config in force now (user groups merged)
        self.client = client
        self.clock = clock
        self.worker = worker or f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease
        self.connections = connections or Connections()  # the process's, from Services
        self.concurrency = max(1, concurrency)
        # Slack's workspace-wide ceiling on chat.postMessage ("several hundred messages per
        # minute", unquantified): paced here only when the operator sets a number.
        self.post_budget = Budget(posts_per_minute) if posts_per_minute else None
        # Each conversation (lane) is worked by one thread at a time, so these per-key
        # maps are never written for one key by two threads at once.
        self.blocked_until: dict[str, datetime] = {}  # conversation -> a 429's Retry-After
        self.method_held_until: dict[str, datetime] = {}  # Web API method -> its 429's wait
        self.recent: dict[str, deque[datetime]] = defaultdict(deque)
        self.paused = False
        self.stopping = threading.Event()  # set on shutdown: try no more rows, release them
        # While serving, posts Slack confirmed are recorded together just before each claim
        # (a few times a second), not each in a transaction of its own (see `record_sent`).
        self.batch_records = False
        self._unrecorded: list[Sent] = []
        self._unreleased: list[tuple[Claimed, datetime]] = []  # rows to put back, untried
        self._unrecorded_lock = threading.Lock()

    @property
    def config(self) -> Config:
        """The configuration in force (the admins as the user groups say now)."""
        return self._config_source() if self._config_source else self._config

    # -- passes --------------------------------------------------------------------------

    def deliver_due(self, limit: int | None = None) -> Tally:
        """Claim up to `limit` due rows and try each once: conversations side by side (up
        to `concurrency` at a time), the rows of one conversation one after another, in
        order (no Slack rows while paused; none once `stopping` is set)."""
        tally = Tally()
        lanes = self.claim(limit or self.concurrency * ROWS_PER_LANE)
        if not lanes:
            return tally
        if len(lanes) == 1 or self.concurrency == 1:
            for lane in lanes:
                tally.add(self.run_lane(lane))
            return tally
        with ThreadPoolExecutor(min(self.concurrency, len(lanes)),
                                thread_name_prefix="deliver") as pool:
            for result in pool.map(self.run_lane, lanes):
                tally.add(result)
        return tally

    def claim(self, limit: int) -> list[list[Claimed]]:
        """Claim due rows (none once stopping; no Slack rows while paused; no more posts
        into a conversation than its pace allows now), as lanes: the rows of one target,
        in order. The posts recorded and the rows released since the last claim are written
        first, in the claim's transaction (a lane recorded may be claimed again).

        On PostgreSQL the posts are rendered in that transaction too. On SQLite they are
        rendered after it commits, in a read of their own: there a claim holds the one
        write lock, which the acks wait for."""
        if self.stopping.is_set():
            return []
        now = self.clock()
        room = self._lane_room(now)
        rows: list[Claimed] | None = None
        prepared = False
        with self._taken_records() as (batch, released), \
                unit_of_work(self.factory) as session:
            _write_records(session, self.worker, batch, released)
            if not slack_pause.is_paused(session):  # the usual case: one transaction
                self.paused = False
                claimed = self._claim_in(session, limit, now, room)
                rows = [_detach(r) for r in claimed]
                if is_postgres(session):
                    self._prepare(session, claimed, rows, now)
                    prepared = True
        if rows is None:
            self.paused = not self._slack_ready()
            with unit_of_work(self.factory) as session:
                claimed = self._claim_in(session, limit, now, room)
            rows = [_detach(r) for r in claimed]
        if not prepared and any(row.kind == POST_KIND for row in rows):
            try:
                with unit_of_work(self.factory) as session:
                    self._prepare(session, claimed, rows, now)
            except BaseException:
                self._release(rows, now)  # claimed but not readable now: back, untried
                raise
        return _lanes(rows)

    def _claim_in(self, session: Session, limit: int, now: datetime,
                  room: dict[str, int]) -> list[Row[Any]]:
        return claim_due(session, now=now, worker=self.worker, limit=limit, lease=self.lease,
                         skip_slack=self.paused, room=room)

    def _lane_room(self, now: datetime) -> dict[str, int]:
        """How many posts each conversation posted to lately may take now: 0 while a 429's
        wait holds or its burst is spent (`_pace` would put them back untried)."""
        room = {key: 0 for key, until in list(self.blocked_until.items()) if until > now}
        for key, recent in list(self.recent.items()):
            used = len(_in_window(recent, now))
            if used and key not in room:
                room[key] = max(0, BURST - used)
        return room

    def _prepare(self, session: Session, claimed: list[Row[Any]], rows: list[Claimed],
                 now: datetime) -> None:
        """Render the claimed posts and find their known DM channels with a few statements
        for the whole claim, not several per row when each is sent."""
        posts = [row for row in rows if row.kind == POST_KIND]
        if not posts:
            return
        rendered = render_posts(session, self.config, claimed)
        channels = dm_channels(session, {row.target for row in posts if row.target},
                               now - PROFILE_TTL)
        for row in posts:
            row.rendered = rendered[row.id]
            row.channel = channels.get(row.target or "")

    def run_lane(self, lane: list[Claimed]) -> Tally:
        """Try a lane's rows in order; at the first one that must wait (paced, a 429, a
        retry, a pause, shutdown) put it and the rest back, so none overtakes another."""
        tally = Tally()
        for index, row in enumerate(lane):
            if self.stopping.is_set() or (self.paused and row.kind.startswith("slack.")):
                self._release(lane[index:], self.clock())  # untried (stopping, or paused)
                break
            retried = tally.retried
            try:
                self._attempt(row, tally)
            except Deferred as wait_for:
                tally.retried += 1
                self._release(lane[index:], wait_for.until)
                break
            if tally.retried > retried:  # it went back to pending: the rest wait behind it
                self._release(lane[index + 1:], self._next_try(row))
                break
        return tally

    def serve(self, wake: threading.Event, stop: threading.Event) -> None:
        """Deliver until `stop`: keep up to `concurrency` lanes in flight, claiming more as
        they finish; idle, wait for `wake` (new rows) or the next row's time. On stop,
        the attempts in flight finish and lanes not started are released at once.

        A claim that found less than it asked for (no backlog) is not repeated for
        `CLAIM_EVERY`: rows that arrive one by one are claimed a few at a time, not each
        with a claim of its own (a claim's statements cost more than a post's)."""
        self.batch_records = True
        try:
            self._serve(wake, stop)
        finally:
            self.batch_records = False
            self.flush_records()

    def _serve(self, wake: threading.Event, stop: threading.Event) -> None:
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="deliver") as pool:
            running: set[Future[Tally]] = set()
            claim_at = 0.0  # time.monotonic() of the next claim
            while not stop.is_set():
                room = self.concurrency - len(running)
                if room > 0 and time.monotonic() >= claim_at:
                    lanes = self._safe_claim(room * ROWS_PER_LANE)
                    running |= {pool.submit(self.run_lane, lane) for lane in lanes}
                    backlog = sum(map(len, lanes)) >= room * ROWS_PER_LANE
                    claim_at = time.monotonic() + (0.0 if backlog else CLAIM_EVERY)
                    if not running:  # nothing due now
                        wake.wait(timeout=self._idle())
                        wake.clear()
                        claim_at = 0.0
                        continue
                # until a lane finishes, or (with room for more) until the next claim
                pause = min(0.5, max(0.0, claim_at - time.monotonic())) if room > 0 else 0.5
                if running:
                    done, running = wait(running, timeout=pause, return_when=FIRST_COMPLETED)
                    _report(done)
                else:
                    stop.wait(timeout=pause)
            self.stopping.set()

    def _safe_claim(self, limit: int) -> list[list[Claimed]]:
        try:
            return self.claim(limit)
        except Exception:  # noqa: BLE001 - the database is away: try again on the next turn
            log.exception("claiming outbox rows failed; trying again")
            return []

    def _idle(self) -> float:
        """Seconds to wait for new rows: until the next pending row's time, at most 1 s.

        A row already due that the claim did not take waits for its conversation's pace
        (or for another worker's attempt in its lane): then until the first conversation
        this worker paced has room again, or `CLAIM_EVERY` when none is paced here. Polling
        sooner would only claim nothing again, a claim's statements each time."""
        try:
            with unit_of_work(self.factory) as session:
                due = next_due(session)
        except Exception:  # noqa: BLE001 - asked again on the next turn
            return 1.0
        if due is None:
            return 1.0
        now = self.clock()
        wait = (due - now).total_seconds()
        if wait <= 0:
            wait = self._until_room(now) or CLAIM_EVERY
        return min(1.0, max(0.05, wait))

    def _until_room(self, now: datetime) -> float:
        """Seconds until the first conversation whose pace is spent (a burst used, a 429's
        wait) may take a post again; 0 when none is."""
        times = [until for until in list(self.blocked_until.values()) if until > now]
        for recent in list(self.recent.values()):
            window = _in_window(recent, now)
            if len(window) >= BURST:  # spent until its oldest post leaves the window
                times.append(window[0] + BURST_WINDOW)
        return (min(times) - now).total_seconds() if times else 0.0

    def _next_try(self, row: Claimed) -> datetime:
        """When a row that went back to pending will be tried again."""
        with unit_of_work(self.factory) as session:
            stored = session.get(OutboxMessage, row.id)
            return stored.next_try_at if stored is not None else self.clock()

    def _slack_ready(self) -> bool:
        """False while Slack delivery is paused; on a due check, ask auth.test and resume."""
        now = self.clock()
        with unit_of_work(self.factory) as session:
            pause = slack_pause.current(session)
            if pause is None:
                return True
            if pause.next_check_at > now:
                return False
            needed = pause.detail if pause.error == "missing_scope" else None
        ok = self._auth_ok(needed)
        with unit_of_work(self.factory) as session:
            if ok:
                enqueue(session, slack_pause.resume(session, self.config.admins, now), now)
            else:
                slack_pause.check_failed(session, now)
        if ok:
            log.warning("Slack answers the bot's token again: Slack delivery resumed")
        return ok

    def _auth_ok(self, needed_scope: str | None) -> bool:
        """auth.test succeeds (and, after `missing_scope`, the token now has that scope)."""
        try:
            answer = self.client.auth_test()
        except Exception:  # noqa: BLE001 - still refused, or Slack unreachable: check later
            return False
        scopes = {k.lower(): v for k, v in (answer.headers or {}).items()}.get("x-oauth-scopes")
        if needed_scope and scopes is not None:
            return needed_scope in {s.strip() for s in str(scopes).split(",")}
        return True

    def _pause(self, row: Claimed, error: str, needed: str | None) -> None:
        """The bot's own token or workspace was refused: pause, put the row back as it was."""
        now = self.clock()
        with unit_of_work(self.factory) as session:
            started = slack_pause.pause(session, error, needed, now)
            pause = slack_pause.current(session)
            # a CRM row that needed Slack waits for the check; Slack rows wait for the pause
            retry_at = pause.next_check_at if pause else now
            finish(session, row.id, self.worker, row.attempt, status="pending",
                   attempts=row.attempt - 1, next_try_at=retry_at, last_error=f"paused: {error}")
        if started:  # logged once per pause, not once per row
            log.error("Slack delivery paused: %s", slack_pause.describe(error, needed))
        self.paused = True

    def _release(self, rows: list[Claimed], until: datetime) -> None:
        """Put paced, rate-limited or (on shutdown) unattempted rows back, untried: now, or
        (while serving) with the next batch of records, before the next claim. Until then
        their lane stays claimed; lost with the process, they are reconciled, not resent."""
        if not rows:
            return
        if self.batch_records:
            with self._unrecorded_lock:
                self._unreleased.extend((row, until) for row in rows)
            return
        with unit_of_work(self.factory) as session:
            _put_back(session, self.worker, [(row, until) for row in rows])

    def drain(self, max_passes: int = 100) -> Tally:
        """Deliver until nothing due is left (tests, the demo, `signalbot worker --once`)."""
        total = Tally()
        for _ in range(max_passes):
            tally = self.deliver_due()
            total.add(tally)
            if not (tally.moved or tally.retried):  # a retry waits: what it held back may go
                break
        return total

    # -- one attempt ---------------------------------------------------------------------

    def _attempt(self, row: Claimed, tally: Tally) -> None:
        before = (tally.sent, tally.skipped, tally.held, tally.retried)
        with logs.context(outbox_id=row.id, signal_id=row.signal_id):
            self._attempt_once(row, tally)
        after = (tally.sent, tally.skipped, tally.held, tally.retried)
        for result, was, now in zip(("sent", "skipped", "held", "retried"), before, after,
                                    strict=True):
            metrics.count_delivery(row.kind, result, now - was)

    def _attempt_once(self, row: Claimed, tally: Tally) -> None:
        try:
            outcome = SENDERS[row.kind](self, row)
        except Deferred:
            raise  # released in bulk by deliver_due
        except Unreachable as gone:
            if gone.known:
                self._skip_gone(row)
                tally.skipped += 1
            else:
                self._hold(row, f"user_not_found: {gone}", unreachable=True)
                tally.held += 1
        except SlackApiError as exc:
            self._slack_error(row, exc, tally)
        except Permanent as exc:  # a CRM or webhook refused it for good: hold, tell the admins
            self._hold(row, str(exc), notify=not exc.quiet)
            tally.held += 1
        except Transient as exc:  # a CRM or webhook is busy or down: its wait, else backoff
            if exc.pacing:  # told to wait (429) or not tried: not a failed attempt
                self.finish(row, status=OutboxStatus.PENDING, attempts=row.attempt - 1,
                             next_try_at=self.clock() + timedelta(seconds=exc.retry_after),
                             last_error=str(exc)[:500])
            else:
                self._retry(row, str(exc), maybe_sent=False, after=exc.retry_after)
            tally.retried += 1
            tally.errors.append(str(exc)[:60])
        except Exception as exc:  # noqa: BLE001 - network trouble: Slack may have it
            log.warning("outbox %s (%s): %s: %s", row.id, row.key, type(exc).__name__, exc)
            self._retry(row, f"{type(exc).__name__}: {exc}", maybe_sent=True)
            tally.retried += 1
            tally.errors.append(type(exc).__name__)
        else:
            if outcome == "skipped":
                self.finish(row, status=OutboxStatus.SKIPPED, sent_at=self.clock())
                tally.skipped += 1
            else:
                tally.sent += 1

    def _slack_error(self, row: Claimed, exc: SlackApiError, tally: Tally) -> None:
        status = exc.response.status_code
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        tally.errors.append(error or str(status))
        metrics.SLACK_ERRORS.labels(error or f"HTTP {status}").inc()
        if error in slack_pause.TOKEN_ERRORS:
            needed = exc.response.get("needed") if isinstance(exc.response.data, dict) else None
            self._pause(row, error, needed)
            tally.retried += 1
        elif status == 429:
            wait = _retry_after(exc.response.headers)
            until = self.clock() + timedelta(seconds=wait)
            method = _method_of(exc.response)
            if method and method != POST_METHOD:  # tiered: per method, for the workspace
                self.method_held_until[method] = until
            else:  # chat.postMessage: its limit is per conversation
                self.blocked_until[self._conversation_key(row)] = until
            self.finish(row, status=OutboxStatus.PENDING, next_try_at=until,
                        attempts=row.attempt - 1, last_error=f"ratelimited, Retry-After {wait}s")
            tally.retried += 1
        elif status >= 500:
            self._retry(row, f"HTTP {status}: {error}", maybe_sent=True)
            tally.retried += 1
        elif error in PERMANENT or row.attempt >= MAX_ATTEMPTS:
            self._hold(row, error or f"HTTP {status}", unreachable=error in UNREACHABLE)
            tally.held += 1
        else:
            self._retry(row, error or f"HTTP {status}", maybe_sent=False)
            tally.retried += 1

    def _retry(self, row: Claimed, error: str, *, maybe_sent: bool,
               after: float | None = None) -> None:
        if row.attempt >= MAX_ATTEMPTS:
            self._hold(row, f"gave up after {row.attempt} attempts: {error}")
            return
        delay = after if after is not None else \
            min(300.0, 2.0 ** min(row.attempt, 8)) * random.uniform(0.5, 1.0)
        self.finish(row, status=OutboxStatus.PENDING,
                    next_try_at=self.clock() + timedelta(seconds=delay),
                    last_error=error[:500], maybe_sent=maybe_sent or row.maybe_sent)

    def _hold(self, row: Claimed, error: str, unreachable: bool = False,
              notify: bool = True) -> None:
        now = self.clock()
        with unit_of_work(self.factory) as session:
            if not finish(session, row.id, self.worker, row.attempt, status=OutboxStatus.HELD,
                          last_error=error[:500]):
                return
            log.error("outbox %s (%s) held: %s", row.id, row.key, error)
            out: list[Outgoing] = []
            if unreachable and row.target:
                owner_unreachable(session, self.config, row.target, now, error)
                out += self._past_the_person(row)
            if notify and not row.key.startswith("held:"):
                out += [_admin_notice(row, error, admin) for admin in self.config.admins]
            enqueue(session, out, now)

    def _skip_gone(self, row: Claimed) -> None:
        """A message to someone already known to be gone: drop it, but never an escalation."""
        with unit_of_work(self.factory) as session:
            if finish(session, row.id, self.worker, row.attempt, status=OutboxStatus.SKIPPED,
                      last_error="recipient deactivated", sent_at=self.clock()):
                enqueue(session, self._past_the_person(row), self.clock())

    def _past_the_person(self, row: Claimed) -> list[Outgoing]:
        """An escalation to a manager who is gone goes on to the admins."""
        if row.payload.get("audience") not in ("manager", APPROVER):
            return []  # an escalation, or a request for more time, still needs an answer
        return [
            Outgoing(key=f"{row.key}:admin:{admin}", kind=POST_KIND, target=admin,
                     payload=row.payload, signal_id=row.signal_id)
            for admin in self.config.admins if admin != row.target
        ]

    def finish(self, row: Claimed, **values: Any) -> None:
        """Record the row's outcome, fenced on this claimer and the row's attempt."""
        with unit_of_work(self.factory) as session:
            finish(session, row.id, self.worker, row.attempt, **values)

    # -- recording what was sent ---------------------------------------------------------

    def record_sent(self, sent: Sent) -> None:
        """Record a post Slack confirmed: now, or (while serving) with the next batch. A post
        whose record is lost with the process stays `sending` until its lease runs out; then
        it is reconciled against the conversation's history (its metadata key), not resent."""
        if not self.batch_records:
            self._record([sent])
            return
        with self._unrecorded_lock:
            self._unrecorded.append(sent)

    def flush_records(self) -> None:
        """Record the posts confirmed and put back the rows released since the last flush,
        in one transaction."""
        batch: list[Sent] = []
        released: list[tuple[Claimed, datetime]] = []
        try:
            with self._taken_records() as (batch, released):
                if batch or released:
                    with unit_of_work(self.factory) as session:
                        _write_records(session, self.worker, batch, released)
        except Exception:  # noqa: BLE001 - the database is away: kept for the next flush
            log.exception("recording %d sent posts and putting back %d rows failed; trying "
                          "again", len(batch), len(released))

    @contextmanager
    def _taken_records(self) -> Iterator[tuple[list[Sent], list[tuple[Claimed, datetime]]]]:
        """The posts confirmed and the rows released since the last flush, taken to be
        written; given back, for the next flush, if the block writing them fails."""
        with self._unrecorded_lock:
            batch, self._unrecorded = self._unrecorded, []
            released, self._unreleased = self._unreleased, []
        try:
            yield batch, released
        except BaseException:
            with self._unrecorded_lock:
                self._unrecorded[:0] = batch
                self._unreleased[:0] = released
            raise
        _log_escalations(batch)

    def _record(self, batch: list[Sent]) -> None:
        with unit_of_work(self.factory) as session:
            _write_records(session, self.worker, batch, [])
        _log_escalations(batch)

    # -- pacing --------------------------------------------------------------------------

    def _conversation_key(self, row: Claimed) -> str:
        return row.target or row.payload.get("channel") or "*"

    def ready(self, method: str) -> None:
        """Raise Deferred while Slack's 429 for `method` (a tiered method, limited per
        workspace) still holds; other methods and conversations go on meanwhile."""
        held = self.method_held_until.get(method)
        if held and held > self.clock():
            raise Deferred(held)

    def _pace(self, row: Claimed) -> None:
        now = self.clock()
        key = self._conversation_key(row)
        blocked = self.blocked_until.get(key)
        if blocked and blocked > now:
            raise Deferred(blocked)
        recent = self.recent[key]
        while recent and now - recent[0] > BURST_WINDOW:
            recent.popleft()
        if len(recent) >= BURST:
            raise Deferred(recent[0] + BURST_WINDOW)
        recent.append(now)

    # -- conversations -------------------------------------------------------------------

    def conversation(self, target: str) -> str:
        """The channel to post in: the DM with a user (opened once, cached), or the channel.

        Slack is asked (users.info, conversations.open) with no transaction open: on SQLite
        a write transaction holds the one write lock every ack waits for, and would hold it
        for as long as Slack takes to answer."""
        if not target.startswith(("U", "W")):
            return target
        with unit_of_work(self.factory) as session:
            person = known_person(session, target)  # race-free with other deliverers
        stale = _stale(person, self.clock())
        if person.deactivated and not stale:
            raise Unreachable(target, known=True)
        if person.dm_channel and not stale:
            return person.dm_channel
        profile = self._profile(person)  # a wrong "deactivated" mark heals here
        channel = person.dm_channel
        if not channel:
            self.ready("conversations.open")
            channel = self.client.conversations_open(users=target)["channel"]["id"]
        with unit_of_work(self.factory) as session:
            remember_profile(session, target, dm_channel=channel, **profile)
        return channel

    def _profile(self, person: Person) -> dict[str, Any]:
        """What Slack says of `person` now (users.info): the columns of their row it sets.
        Unreachable when Slack says they are gone (nothing is written: the hold that follows
        marks them, fenced on the row's claim)."""
        self.ready("users.info")
        user = self.client.users_info(user=person.slack_id)["user"]
        if user.get("deleted"):
            raise Unreachable(person.slack_id, known=person.deactivated)
        return {"profile_checked_at": self.clock(), "deactivated": False,
                "tz": user.get("tz") or person.tz,
                "name": user.get("real_name") or user.get("name") or person.name,
                "email": (user.get("profile") or {}).get("email") or person.email}

    def reconcile(self, channel: str, key: str, since: datetime | None) -> str | None:
        """The ts of a message already in `channel` carrying outbox `key`, if there is one."""
        oldest = f"{(since.timestamp() - 60) if since else 0:.6f}"
        cursor = None
        for _ in range(5):
            self.ready("conversations.history")
            page = self.client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
            )
            for message in page.get("messages", []):
                meta = message.get("metadata") or {}
                if meta.get("event_type") == METADATA_TYPE and \
                        (meta.get("event_payload") or {}).get("key") == key:
                    return message["ts"]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None


def _in_window(recent: deque[datetime], now: datetime) -> list[datetime]:
    """A conversation's posts still within its burst window, oldest first (`_pace` drops
    the older ones only when the conversation posts again)."""
    return [at for at in list(recent) if now - at <= BURST_WINDOW]


def _stale(person: Person, now: datetime) -> bool:
    return person.profile_checked_at is None or now - person.profile_checked_at > PROFILE_TTL


def _detach(row: Row[Any]) -> Claimed:
    return Claimed(id=row.id, attempt=row.attempts, key=row.key, kind=row.kind, target=row.target,
                   payload=dict(row.payload), signal_id=row.signal_id, maybe_sent=row.maybe_sent,
                   started=row.attempt_started_at, due=row.due_at)


def _write_records(session: Session, worker: str, batch: list[Sent],
                   released: list[tuple[Claimed, datetime]]) -> None:
    """Put `released` rows back and record the `batch` of posts Slack confirmed, each only
    while `worker`'s claim of its attempt holds; a card posted gets its row."""
    if released:
        _put_back(session, worker, released)
    if not batch:
        return
    recorded = finish_sent(session, worker, [
        SentPost(sent.row.id, sent.row.attempt, sent.at, sent.channel, sent.ts)
        for sent in batch])
    cards = []
    for sent in batch:
        row = sent.row
        if row.id in recorded and row.payload.get("render") == "card" and row.signal_id:
            cards.append({"signal_id": row.signal_id, "audience": row.payload["audience"],
                          "user_id": row.target, "channel": sent.channel, "ts": sent.ts,
                          "created_at": sent.at, "headline": row.payload.get("headline"),
                          "extension_id": row.payload.get("extension")})
    insert_rows(session, Card.__table__, cards)  # one statement, whatever their number


def _log_escalations(batch: list[Sent]) -> None:
    for sent in batch:
        if sent.row.payload.get("audience") == "manager" and sent.row.due:
            # escalation lateness as the manager sees it: queued (decided) to delivered
            log.info("escalation %s delivered %.1fs after it was decided",
                     sent.row.key, (sent.at - sent.row.due).total_seconds())


def _put_back(session: Session, worker: str, rows: list[tuple[Claimed, datetime]]) -> None:
    """Each row back to pending, untried, until its time (fenced on this claim)."""
    for row, until in rows:
        finish(session, row.id, worker, row.attempt, status=OutboxStatus.PENDING,
               next_try_at=until, attempts=row.attempt - 1, claimed_by=None, lease_until=None)


def _lanes(rows: list[Claimed]) -> list[list[Claimed]]:
    """Rows grouped by target (a conversation, a CRM, a webhook host), each group in the
    claimed (outbox) order; rows without a target go alone."""
    lanes: dict[str | int, list[Claimed]] = {}
    for row in rows:
        lanes.setdefault(row.target if row.target is not None else row.id, []).append(row)
    return list(lanes.values())


def _report(done: set[Future[Tally]]) -> None:
    for future in done:
        problem = future.exception()
        if problem is not None:  # the rows stay claimed until their lease runs out
            log.error("a delivery lane failed: %s", problem, exc_info=problem)


def _method_of(response: Any) -> str | None:
    """The Web API method a response answers ("…/api/chat.postMessage" -> the method)."""
    url = str(getattr(response, "api_url", "") or "")
    return url.rsplit("/", 1)[-1] or None


def _retry_after(headers: Any) -> int:
    try:
        return max(1, int(float((headers or {}).get("Retry-After", 1))))
    except (TypeError, ValueError):
        return 1


def _admin_notice(row: Claimed, error: str, admin: str) -> Outgoing:
    who = f"<@{row.target}>" if row.target and row.target.startswith(("U", "W")) else row.target
    text = (f":warning: signalbot could not deliver a message to {who} "
            f"(`{error[:200]}`). It is held, not retried; outbox row #{row.id} (`{row.key}`).")
    return Outgoing(key=f"held:{row.id}:{admin}", kind=POST_KIND, target=admin,
                    payload={"text": text})


# -- senders, one per outbox kind ---------------------------------------------------------

def _send_post(d: Deliverer, row: Claimed) -> str:
    d._pace(row)
    channel = row.channel or d.conversation(row.target or "")
    if row.maybe_sent:
        ts = d.reconcile(channel, row.key, row.started)
        if ts:
            log.info("outbox %s (%s) was already in Slack: adopted ts %s", row.id, row.key, ts)
            return _record_sent(d, row, channel, ts)
    rendered = row.rendered
    if rendered is None:
        return "skipped"
    if d.post_budget is not None:
        until = d.post_budget.take(d.clock())
        if until is not None:
            raise Deferred(until)
    answer = _post_message(d, row, channel, rendered)
    return _record_sent(d, row, answer["channel"], answer["ts"])


def _post_message(d: Deliverer, row: Claimed, channel: str, rendered: Rendered) -> Any:
    """chat.postMessage; a workspace that refuses the chart block (`invalid_blocks` naming
    `data_visualization`, an older Slack) gets the message again at once without its charts:
    the refused call posted nothing, and each chart's figures are in the blocks as words."""
    post = {"channel": channel, "text": rendered.text, "unfurl_links": False,
            "metadata": {"event_type": METADATA_TYPE, "event_payload": {"key": row.key}}}
    try:
        return d.client.chat_postMessage(blocks=rendered.blocks, **post)
    except SlackApiError as exc:
        if not _refuses_charts(exc, rendered.blocks):
            raise
        log.warning("outbox %s (%s): the workspace refused the chart block; sent without it",
                    row.id, row.key)
        return d.client.chat_postMessage(blocks=without_charts(rendered.blocks or []), **post)


def _refuses_charts(exc: SlackApiError, blocks: list[dict[str, Any]] | None) -> bool:
    """Slack refused blocks holding a chart and said the chart is why (chat.* answer
    invalid_blocks, views.* invalid_arguments)."""
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    if data.get("error") not in ("invalid_blocks", "invalid_arguments") or not any(
            b.get("type") == CHART for b in blocks or []):
        return False
    said = [*data.get("errors", []), *data.get("response_metadata", {}).get("messages", [])]
    return any(CHART in str(message) for message in said)


def _record_sent(d: Deliverer, row: Claimed, channel: str, ts: str) -> str:
    d.record_sent(Sent(row, channel, ts, d.clock()))
    return "sent"


def _send_refresh(d: Deliverer, row: Claimed) -> str:
    with unit_of_work(d.factory) as session:
        signal = session.get(Signal, row.signal_id)
        if signal is None:
            return "skipped"
        updates = [
            (card.channel, card.ts, render_card(session, d.config, signal, card.audience,
                                                card.headline, card.extension_id))
            for card in cards_of(session, signal.id)
        ]
        homes = home_refreshes(session, d.config, signal)
    for channel, ts, rendered in updates:
        _update(d, channel, ts, rendered)
    with unit_of_work(d.factory) as session:
        enqueue(session, homes, d.clock())
    d.finish(row, status=OutboxStatus.SENT, sent_at=d.clock())
    return "sent"


def _send_settle(d: Deliverer, row: Claimed) -> str:
    """A handled suggestion: its posted DMs lose their buttons and say what was done."""
    with unit_of_work(d.factory) as session:
        updates = settled_posts(session, row.payload)
    if not updates:
        return "skipped"
    for channel, ts, rendered in updates:
        _update(d, channel, ts, rendered)
    d.finish(row, status=OutboxStatus.SENT, sent_at=d.clock())
    return "sent"


def _update(d: Deliverer, channel: str, ts: str, rendered: Rendered) -> None:
    d.ready("chat.update")
    try:
        d.client.chat_update(channel=channel, ts=ts, text=rendered.text, blocks=rendered.blocks)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("message_not_found", "cant_update_message"):
            raise
        log.info("card %s/%s is gone from Slack; not updated", channel, ts)


def _send_ephemeral(d: Deliverer, row: Claimed) -> str:
    d.ready("chat.postEphemeral")
    d.client.chat_postEphemeral(channel=row.payload["channel"], user=row.target,
                                text=row.payload["text"], blocks=row.payload.get("blocks"))
    d.finish(row, status=OutboxStatus.SENT, sent_at=d.clock())
    return "sent"


def _send_home(d: Deliverer, row: Claimed) -> str:
    """Publish the person's App Home, rendered now."""
    d.ready("views.publish")
    if not row.key.endswith(f":{row.id}"):  # once: a retried row keeps its freed key
        with unit_of_work(d.factory) as session:
            # free the pending key first: a change committed from now on queues a new refresh
            session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                            .values(key=f"{row.key}:{row.id}"))
    with unit_of_work(d.factory) as session:
        view = render_home(session, d.config, row.target, d.clock())
    try:
        d.client.views_publish(user_id=row.target, view=view)
    except SlackApiError as exc:  # an older Slack: the Home without its charts (words stay)
        if not _refuses_charts(exc, view["blocks"]):
            raise
        d.client.views_publish(user_id=row.target,
                               view={**view, "blocks": without_charts(view["blocks"])})
    d.finish(row, status=OutboxStatus.SENT, sent_at=d.clock())
    return "sent"


SENDERS: dict[str, Sender] = {
    POST_KIND: _send_post,
    "slack.refresh": _send_refresh,
    "slack.settle": _send_settle,
    "slack.ephemeral": _send_ephemeral,
    "slack.home": _send_home,
    **CRM_SENDERS,  # crm.upsert, webhook (service/crm/sync.py)
}
