"""delivery: how fast due messages reach Slack, each exactly once (issue 16).

The stand-in answers every Web API call after `--slack-latency` (0.15 s: Slack's round
trip) and limits as Slack documents: chat.postMessage one a second per conversation with
short bursts (5), every other method per workspace by its tier (standin/rates.py). Real
`bot.delivery.Deliverer`s send, in their continuous loop (`serve`, as the worker runs it).

- **dms**: 1,000 DMs to 200 people (5 each, queued in random order) delivered.
- **escalations**: 1,000 signals whose acknowledge deadline passed during an outage; the
  sweep decides 1,000 escalations at once, to 1,000 different managers; measured from the
  start of the sweep (the decision) to the last manager's DM delivered.
- **backlog**: 10,000 DMs to 500 people on PostgreSQL with two deliverers and 2% spurious
  429s on every call: nothing lost, nothing twice (full run only).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import func, select, update

from bench.common import Options, Report, database, per_database
from bench.data import NOW, Team
from bot.config import Config
from bot.delivery import CONCURRENCY, Deliverer, make_client
from protocol.record import SignalDraft
from service import capture
from service.sweep import sweep
from standin import SlackStandin
from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Base, OutboxMessage, Person
from storage.outbox import Outgoing, enqueue

NAME = "delivery"
HEADERS = ["scenario", "database", "load avg 1 min", "messages", "people", "deliverers × lanes",
           "latency ms", "floor s", "seconds", "target s", "target", "process CPU s", "429s",
           "peak calls in flight", "overlaps", "delivered once", "missing", "twice",
           "duplicates()"]
ALL_MET = {"budget": True, "buyer": True, "timeline": True, "fit": True}


class Clock:
    """Bench time: `start` plus the real seconds since (pacing and Retry-After need both)."""

    def __init__(self, start: datetime) -> None:
        self.start, self.zero = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.zero)


# -- set-up --------------------------------------------------------------------------------


def _known(factory, people: list[str], standin: SlackStandin, now: datetime) -> None:
    """The bot has DM'd these people before: their DM channel and profile are stored (a
    first DM costs users.info + conversations.open, Tier 4 and Tier 3; see the notes)."""
    with unit_of_work(factory) as session:
        have = set(session.scalars(select(Person.slack_id).where(Person.slack_id.in_(people))))
        for user in people:
            if user not in have:
                session.add(Person(slack_id=user, name=user.title(), tz="America/New_York"))
        session.flush()
        session.execute(update(Person).where(Person.slack_id.in_(people)).values(
            profile_checked_at=now, deactivated=False))
        for user in people:
            session.execute(update(Person).where(Person.slack_id == user).values(
                dm_channel=standin.dm_channel(user)))


def _queue_dms(factory, count: int, users: list[str], now: datetime, seed: int) -> list[str]:
    """`count` DMs spread evenly over `users`, in random order; returns their keys."""
    rng = random.Random(seed)
    targets = [users[i % len(users)] for i in range(count)]
    rng.shuffle(targets)
    items = [Outgoing(key=f"bench-dm:{i}", kind="slack.post", target=target,
                      payload={"text": f"Benchmark message {i}"})
             for i, target in enumerate(targets)]
    for start in range(0, count, 1000):
        with unit_of_work(factory) as session:
            enqueue(session, items[start:start + 1000], now)
    return [item.key for item in items]


def _sent(factory, pattern: str) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).where(
            OutboxMessage.key.like(pattern), OutboxMessage.status == "sent"))


def _serve(deliverers: list[Deliverer], done: Callable[[], bool], limit_s: float,
           wake: threading.Event) -> float | None:
    """Run each deliverer's loop in a thread until `done()`; seconds taken, None if not."""
    stop = threading.Event()
    threads = [threading.Thread(target=d.serve, args=(wake, stop), daemon=True)
               for d in deliverers]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    finished = None
    while time.monotonic() - start < limit_s:
        if done():
            finished = time.monotonic() - start
            break
        time.sleep(0.1)
    stop.set()
    wake.set()
    for thread in threads:
        thread.join(timeout=30)
    return finished


def _cpu() -> float:
    """This process's CPU seconds so far (the deliverer and the in-process stand-in)."""
    times = os.times()
    return times.user + times.system


def _outcome(standin: SlackStandin, keys: list[str], cpu: float) -> dict[str, float]:
    posted = Counter((m.get("metadata") or {}).get("event_payload", {}).get("key")
                     for m in standin.all_posts())
    return {"once": sum(1 for k in keys if posted[k] == 1),
            "missing": sum(1 for k in keys if posted[k] == 0),
            "twice": sum(1 for k in keys if posted[k] > 1),
            "duplicates": len(standin.duplicates()),
            "429s": sum(1 for call in standin.calls if call.status == 429),
            "overlaps": len(standin.overlaps), "peak": standin.peak_in_flight,
            "cpu": _cpu() - cpu}


def _row(report: Report, scenario: str, db: str, load: float, keys: list[str], people: int,
         workers: str, opts: Options, floor: float, seconds: float | None, target: float | None,
         seen: dict[str, float]) -> bool:
    met = seconds is not None and (target is None or seconds <= target)
    ok = seen["once"] == len(keys) and not seen["twice"] and not seen["duplicates"]
    report.rows.append([
        scenario, db, f"{load:.2f}", len(keys), people, workers, f"{opts.latency * 1000:.0f}",
        f"{floor:.0f}", f"{seconds:.1f}" if seconds is not None else "timed out",
        f"≤ {target:.0f}" if target else "-", ("met" if met else "MISSED") if target else "-",
        f"{seen['cpu']:.1f}", seen["429s"], seen["peak"], seen["overlaps"], seen["once"],
        seen["missing"], seen["twice"], seen["duplicates"]])
    return ok and seen["overlaps"] == 0


def _engine(url: str):
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    return engine, session_factory(engine)


def _deliverer(factory, config: Config, standin: SlackStandin, clock: Clock, name: str,
               concurrency: int = CONCURRENCY) -> Deliverer:
    return Deliverer(factory, config, make_client("xoxb-bench", standin.base_url), clock=clock,
                     worker=name, concurrency=concurrency)


def _limits(standin: SlackStandin, random_429: float = 0.0) -> None:
    standin.rate_limit(per_channel_per_second=1, burst=5, tiers=True, random_429=random_429,
                       seed=6)


# -- the scenarios -------------------------------------------------------------------------


def dms(db: str, opts: Options, report: Report, lanes: int = CONCURRENCY) -> bool:
    """1,000 DMs to 200 people, target 15 s."""
    count, people = opts.pick((1000, 200), (1000, 200), (100, 20))
    users = [f"U0DM{i:06d}" for i in range(people)]
    with SlackStandin(latency=opts.latency) as standin, database(db, f"{NAME}_dms") as url:
        for user in users:
            standin.add_user(user, user.title())
        engine, factory = _engine(url)
        _known(factory, users, standin, NOW)
        keys = _queue_dms(factory, count, users, NOW, seed=6)
        _limits(standin)
        load, cpu = os.getloadavg()[0], _cpu()
        clock = Clock(NOW)
        seconds = _serve([_deliverer(factory, Config(admins=("U0REVOPS1",)), standin, clock,
                                     "bench-0", lanes)],
                         lambda: _sent(factory, "bench-dm:%") == count,
                         opts.pick(120, 120, 60), threading.Event())
        engine.dispose()
        seen = _outcome(standin, keys, cpu)
    per_person = count / people  # burst 5, then one a second
    floor = max(max(0.0, per_person - 5), count / lanes * opts.latency)
    return _row(report, "dms", db, load, keys, people, f"1 × {lanes}", opts, floor,
                seconds, 15, seen)


def _draft(i: int, ae: str) -> SignalDraft:
    return SignalDraft(account=f"Outage Account {i}", category="product",
                       kind="seat_utilisation", buyer_name="Jamie Reyes", timeline="Q3",
                       note="Ops team is growing.", urgency="hot", ae_id=ae,
                       answers=dict(ALL_MET))


def _logged(factory, config: Config, team: Team, count: int, at: datetime) -> None:
    """`count` hot signals, one per AE, logged and handed off at `at`; their own messages
    (the AE's card, the CSM's confirmation, homes) count as delivered before the outage."""
    for start in range(0, count, 100):
        with unit_of_work(factory) as session:
            for i in range(start, min(count, start + 100)):
                capture.log_signal(session, config, _draft(i, team.aes[i]),
                                   team.csms[i % len(team.csms)], at)
    with unit_of_work(factory) as session:
        session.execute(update(OutboxMessage).values(status="sent", sent_at=at))


def _decide(factory, config: Config, now: datetime) -> int:
    """What the worker's sweep does: every due clock, in batches of 500, committed."""
    total = 0
    while True:
        with unit_of_work(factory) as session:
            handled = sweep(session, config, now, limit=500)
        total += handled
        if handled < 500:
            return total


def escalations(db: str, opts: Options, report: Report, lanes: int = CONCURRENCY) -> bool:
    """1,000 escalations decided at once reach 1,000 managers' DMs, target 20 s."""
    count = opts.pick(1000, 1000, 50)
    team = Team.make(csms=50, aes=count, teams=count, directors=10)
    config = team.config()
    managers = sorted({team.managers[ae] for ae in team.aes})
    with SlackStandin(latency=opts.latency) as standin, \
            database(db, f"{NAME}_escalations") as url:
        team.register(standin)
        engine, factory = _engine(url)
        logged_at = NOW - timedelta(hours=6)  # before the outage; the 4 h ack SLA ran out
        _logged(factory, config, team, count, logged_at)
        _known(factory, team.everyone(), standin, NOW)
        _limits(standin)
        load, cpu = os.getloadavg()[0], _cpu()
        clock = Clock(NOW)
        wake = threading.Event()
        deliverer = _deliverer(factory, config, standin, clock, "bench-0", lanes)
        started = time.monotonic()
        decided = _decide(factory, config, clock())
        swept = time.monotonic() - started
        with unit_of_work(factory) as session:
            queued = Counter(session.scalars(select(OutboxMessage.kind).where(
                OutboxMessage.status == "pending")))
        wake.set()
        delivered = _serve([deliverer], lambda: _sent(factory, "card:%:manager:%") >= count,
                           opts.pick(180, 180, 60), wake)
        seconds = None if delivered is None else swept + delivered
        with unit_of_work(factory) as session:
            keys = list(session.scalars(select(OutboxMessage.key).where(
                OutboxMessage.key.like("card:%:manager:%"))))
        engine.dispose()
        seen = _outcome(standin, keys, cpu)
    what = ", ".join(f"{n} {kind}" for kind, n in sorted(queued.items()))
    report.notes.append(
        f"escalations ({db}, {lanes} lanes): {decided} clocks decided by the sweep in "
        f"{swept:.1f} s, queueing {what} ({len(keys)} of the posts are the managers' cards, "
        "the rest tell each AE and CSM); "
        + (f"the last manager's card was delivered {delivered:.1f} s after the sweep."
           if delivered is not None else "not all delivered in time."))
    # the managers' cards are claimed before the notices decided with them: they share the
    # lanes with each other only
    floor = len(keys) / lanes * opts.latency
    return _row(report, "escalations", db, load, keys, len(managers), f"1 × {lanes}",
                opts, floor, seconds, 20, seen) and decided == count == len(keys)


def backlog(db: str, opts: Options, report: Report) -> bool:
    """10,000 DMs to 500 people, two deliverers (PostgreSQL), 2% spurious 429s."""
    count, people, workers = (10_000, 500, 2) if db == "postgres" else (2_000, 100, 1)
    users = [f"U0BL{i:06d}" for i in range(people)]
    with SlackStandin(latency=opts.latency) as standin, \
            database(db, f"{NAME}_backlog") as url:
        for user in users:
            standin.add_user(user, user.title())
        engine, factory = _engine(url)
        _known(factory, users, standin, NOW)
        keys = _queue_dms(factory, count, users, NOW, seed=7)
        _limits(standin, random_429=0.02)
        load, cpu = os.getloadavg()[0], _cpu()
        clock = Clock(NOW)
        deliverers = [_deliverer(factory, Config(admins=("U0REVOPS1",)), standin, clock,
                                 f"bench-{i}") for i in range(workers)]
        seconds = _serve(deliverers, lambda: _sent(factory, "bench-dm:%") == count, 600,
                         threading.Event())
        engine.dispose()
        seen = _outcome(standin, keys, cpu)
    floor = max(max(0.0, count / people - 5), count / (CONCURRENCY * workers) * opts.latency)
    return _row(report, "backlog", db, load, keys, people, f"{workers} × {CONCURRENCY}", opts,
                floor, seconds, None, seen)


def run(opts: Options) -> Report:
    report = Report(
        NAME, "Delivery throughput (delivery)",
        "1,000 DMs to 200 people ≤ 15 s; 1,000 escalations decided at once reach 1,000 "
        "managers ≤ 20 s (from the decision); every message exactly once, none overlapping "
        "in a conversation", opts.command, HEADERS)
    report.notes.append(
        f"Stand-in: every Web API call answered after {opts.latency * 1000:.0f} ms "
        "(`SlackStandin(latency=…)`, `python -m standin --latency`), calls side by side; "
        "`rate_limit(per_channel_per_second=1, burst=5, tiers=True)`: chat.postMessage one a "
        "second per conversation after a burst of 5, other methods by their tier per "
        "workspace (Tier 3 50/min, Tier 4 100/min), no workspace ceiling on posts (see the "
        "findings). The deliverer runs its continuous loop (`Deliverer.serve`, as the worker "
        f"does) with {CONCURRENCY} lanes (`SIGNALBOT_DELIVERY_CONCURRENCY`), paces itself "
        "at 3 messages per 3 s per conversation and holds a conversation (chat.postMessage) "
        "or a method (tiered) for a 429's Retry-After. The people are known to the bot "
        "(their DM channel and profile stored), as after its first day. *Pace floor* is "
        "what Slack's limits and the latency allow at best: the busiest conversation's "
        "messages beyond the burst at one a second, plus every call's latency spread over "
        "the lanes (for the escalations: the managers' cards only, which are claimed before "
        "the notices decided with them). *Overlaps*: calls that reached a conversation "
        "while another was in flight there (must be 0). *Delivered once*: keys found in "
        "exactly one message (message metadata). *Load avg*: the machine's 1-minute load "
        "before the run (the figures are mostly waiting on the 150 ms answers, so load "
        "moves them little). "
        "The stand-in runs in the bench's process.")
    wide = () if opts.quick or opts.smoke else (2 * CONCURRENCY,)
    scenarios = [(f"dms, {n} lanes", partial(dms, lanes=n)) for n in (CONCURRENCY, *wide)]
    scenarios += [(f"escalations, {n} lanes", partial(escalations, lanes=n))
                  for n in (CONCURRENCY, *wide)]
    if not (opts.quick or opts.smoke):
        scenarios.append(("backlog", backlog))
    verdicts: list[str] = []
    for label, scenario in scenarios:
        per_database(opts.dbs, report, lambda db, s=scenario: s(db, opts, report),
                     lambda ok: "exactly once" if ok else "LOST, DUPLICATED OR OVERLAPPING")
        verdicts.append(f"{label}: {report.verdict}")
    report.verdict = "; ".join(verdicts)
    return report
