"""delivery: drain a large outbox against Slack's rate limits, every message once.

10,000 queued DMs to 500 people go to a stand-in that limits chat.postMessage to one a
second per conversation (burst 5) and answers 2% of all calls with a spurious 429. Real
`bot.delivery.Deliverer`s (two threads on PostgreSQL, where claims use SKIP LOCKED; one on
SQLite, which the bot runs as a single process) deliver until the outbox is empty.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from sqlalchemy import func, select

from bench.common import Options, Report, database, per_database
from bot.clock import utcnow
from bot.config import Config
from bot.delivery import Deliverer, make_client
from standin import SlackStandin
from storage.db import make_engine, session_factory, unit_of_work
from storage.models import Base, OutboxMessage
from storage.outbox import Outgoing, enqueue

NAME = "delivery"
HEADERS = ["database", "messages", "people", "deliverers", "elapsed s", "messages/s",
           "allowed messages/s", "floor s", "429s seen", "sent", "delivered once", "missing",
           "twice", "duplicates()", "errors the deliverers saw"]


def _queue(factory, count: int, users: list[str]) -> dict[str, str]:
    """Queue `count` DMs to random `users`, in random order; returns key -> recipient."""
    rng = random.Random(6)
    items = [Outgoing(key=f"bench-dm:{i}", kind="slack.post", target=rng.choice(users),
                      payload={"text": f"Benchmark message {i}"}) for i in range(count)]
    for start in range(0, count, 1000):
        with unit_of_work(factory) as session:
            enqueue(session, items[start:start + 1000], utcnow())
    return {item.key: item.target for item in items}


def _left(factory) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).where(
            OutboxMessage.status.in_(("pending", "sending"))))


def _drain(deliverers: list[Deliverer], factory, limit_s: float, errors: Counter) -> float:
    """Run every deliverer in its own thread until the outbox is empty; seconds taken."""
    done = threading.Event()
    deadline = time.monotonic() + limit_s

    def loop(deliverer: Deliverer) -> None:
        while not done.is_set() and time.monotonic() < deadline:
            tally = deliverer.deliver_due(limit=50)
            errors.update(tally.errors)
            if not (tally.sent or tally.retried or tally.skipped or tally.held):
                time.sleep(0.05)

    start = time.monotonic()
    threads = [threading.Thread(target=loop, args=(d,), daemon=True) for d in deliverers]
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline and _left(factory):
        time.sleep(0.25)
    elapsed = time.monotonic() - start
    done.set()
    for thread in threads:
        thread.join(timeout=30)
    return elapsed


def _one(db: str, opts: Options, report: Report) -> bool:
    big = db == "postgres"
    count = opts.pick(10_000 if big else 1_000, 1_000, 200)
    people = opts.pick(500 if big else 100, 100, 100)
    workers = 2 if db == "postgres" else 1
    users = [f"U0DM{i:06d}" for i in range(people)]
    with SlackStandin() as standin, database(db, NAME) as url:
        standin.rate_limit(per_channel_per_second=1, burst=5, random_429=0.02, seed=6)
        for user in users:
            standin.add_user(user, user.title())
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        factory = session_factory(engine)
        keys = _queue(factory, count, users)
        deliverers = [Deliverer(factory, Config(), make_client("xoxb-bench", standin.base_url),
                                worker=f"bench-{i}") for i in range(workers)]
        errors: Counter = Counter()
        elapsed = _drain(deliverers, factory, opts.pick(600, 180, 60), errors)
        with unit_of_work(factory) as session:
            sent = session.scalar(select(func.count()).where(OutboxMessage.status == "sent"))
        engine.dispose()
        posted = Counter((m.get("metadata") or {}).get("event_payload", {}).get("key")
                         for m in standin.all_posts())
        ratelimited = sum(1 for call in standin.calls if call.status == 429)
        duplicates = standin.duplicates()
    per_user = Counter(keys.values())
    floor = max(0, max(per_user.values()) - 5)  # burst 5, then one a second
    missing = sum(1 for key in keys if posted[key] == 0)
    twice = sum(1 for key in keys if posted[key] > 1)
    report.rows.append([db, count, people, workers, f"{elapsed:.1f}", f"{count / elapsed:.0f}",
                        people, floor, ratelimited, sent,
                        sum(1 for key in keys if posted[key] == 1), missing, twice,
                        len(duplicates),
                        ", ".join(f"{e} ×{n}" for e, n in errors.most_common()) or "-"])
    return sent == count and missing == 0 and twice == 0 and not duplicates


def run(opts: Options) -> Report:
    report = Report(
        NAME, "Delivery under Slack rate limits (delivery)",
        "all queued DMs delivered, none twice, at a rate the limits allow",
        opts.command, HEADERS)
    report.notes.append(
        "Stand-in: `rate_limit(per_channel_per_second=1, burst=5, random_429=0.02, seed=6)`; "
        "every call (including `users.info` and `conversations.open` for each new person) may "
        "get the spurious 429. *Allowed messages/s* is the stand-in's ceiling, one a second "
        "in each of the conversations; *floor* is the least time the busiest conversation "
        "needs (its messages minus the burst of 5, at one a second). The `Deliverer` paces "
        "itself at 3 messages per 3 s per conversation and waits out each 429's Retry-After "
        "for that conversation. *Delivered once*: outbox keys found in exactly one message "
        "(by message metadata) in the stand-in. The stand-in runs in the deliverers' process "
        "(it shares their GIL). SQLite gets 1,000 messages (one deliverer) to keep "
        "`make bench` short.")
    per_database(opts.dbs, report, lambda db: _one(db, opts, report),
                 lambda ok: "all delivered once" if ok else "LOST OR DUPLICATED")
    return report
