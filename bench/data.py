"""Synthetic history for the benchmarks: people, accounts, signals, events, clocks, escalations.

`history(...)` makes a realistic year: signals logged evenly over `span`, most of them long
closed (their clocks met, cancelled or escalated, `next_step_at` NULL), the young ones open
with clocks still ahead; `due_block(...)` adds hand-offs whose next step has fallen due now.
`pending(...)` makes the APScheduler comparison's data instead: every clock still ahead.
`load` writes the rows with PostgreSQL COPY or SQLite `executemany` of Core inserts (never
ORM objects) and lets the database copy them up to the size asked; `build` does it all.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Connection, Engine, Table, inspect, text

from bench.common import SHARED, database, keep_folder, kept_database
from bot.config import Config
from protocol.catalogue import CATEGORIES
from storage.db import make_engine
from storage.models import Base

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday afternoon
ADMIN = "U0REVOPS1"
TYPES = [(c, k) for c, (_, kinds) in CATEGORIES.items() for k in kinds]
WINDOWS = {"hot": (timedelta(hours=4), timedelta(hours=24)),
           "warm": (timedelta(hours=24), timedelta(hours=72))}
OUTCOMES = (("won", 0.25), ("lost", 0.35), ("deferred", 0.2), ("not_ready", 0.2))
TABLES = ("people", "accounts", "signals", "signal_events", "deadlines", "escalations")
CHUNK = 20_000


@dataclass
class Team:
    """Who is in the data: CSMs, AEs, their managers and directors, the admin."""

    csms: list[str]
    aes: list[str]
    managers: dict[str, str]  # person -> manager

    @classmethod
    def make(cls, csms: int = 200, aes: int = 100, teams: int = 20, directors: int = 4) -> Team:
        csm = [f"U0CSM{i:05d}" for i in range(csms)]
        ae = [f"U0AE{i:06d}" for i in range(aes)]
        managers = {a: f"U0MGR{i % teams:05d}" for i, a in enumerate(ae)}
        managers |= {f"U0MGR{t:05d}": f"U0DIR{t % directors:05d}" for t in range(teams)}
        return cls(csm, ae, managers)

    def everyone(self) -> list[str]:
        return sorted({*self.csms, *self.aes, *self.managers, *self.managers.values(), ADMIN})

    def config(self, **changes: Any) -> Config:
        """The default protocol with this roster."""
        return Config(managers=dict(self.managers), admins=(ADMIN,), **changes)

    def yaml(self, extra: str = "") -> str:
        """A config file with this roster (and `extra` YAML, e.g. SLAs)."""
        roster = ", ".join(f"{a}: {b}" for a, b in self.managers.items())
        return (f"timezone: America/New_York\n{extra}roster:\n  managers: {{{roster}}}\n"
                f"  admins: [{ADMIN}]\n")

    def register(self, standin: Any) -> None:
        """Make every person known to a SlackStandin's users.info."""
        for user in self.everyone():
            standin.add_user(user, user.title(), email=f"{user.lower()}@example.com")


TEAM = Team.make()  # the people of every generated data set


@dataclass
class Rows:
    """Rows per table, built in memory (dicts keyed by column name)."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in TABLES})
    ids: dict[str, int] = field(default_factory=dict)  # the last id given, per table
    events: bool = True  # False: leave out the event log (the sweep never reads it)

    def add(self, table: str, **values: Any) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        values.setdefault("id", self.ids[table])
        self.tables[table].append(values)
        return values["id"]


def _people(rows: Rows, team: Team, now: datetime) -> None:
    for user in team.everyone():
        rows.tables["people"].append(dict(
            slack_id=user, name=user.title(), email=f"{user.lower()}@example.com",
            tz="America/New_York", manager_id=None, manager_set_by=None, deactivated=False,
            dm_channel="D" + user[1:], profile_checked_at=now))


def _accounts(rows: Rows, team: Team, count: int, rng: random.Random, start: datetime) -> None:
    for i in range(count):
        rows.add("accounts", name=f"Account {i}", name_key=f"account {i}", crm_id=None,
                 ae_id=rng.choice(team.aes), csm_id=rng.choice(team.csms), created_at=start)


def _signal(rows: Rows, rng: random.Random, team: Team, accounts: int, created: datetime,
            urgency: str, **values: Any) -> int:
    category, kind = rng.choice(TYPES)
    signal = dict(
        account_id=rng.randint(1, accounts), csm_id=rng.choice(team.csms),
        ae_id=rng.choice(team.aes), ownership="ae", category=category, kind=kind,
        detail="Seat utilisation at 89%", buyer_name="Jamie Reyes", buyer_title="VP Operations",
        timeline="Q3, before the budget freeze", timeline_date=None,
        note="Champion mentioned the ops team is growing.", urgency=urgency,
        est_arr=Decimal(rng.randrange(5, 200) * 1000), stage="handed_off", source="slash",
        message_link=None, submission_key=None, token=1, version=3, revisit_on=None,
        outcome=None, outcome_reason=None, won_arr=None, created_at=created,
        handed_off_at=created, acknowledged_at=None, contacted_at=None, closed_at=None,
        updated_at=created)
    signal.update(values)
    signal_id = rows.add("signals", **signal)
    _event(rows, signal_id, created, signal["csm_id"], "logged", None, "signal")
    return signal_id


def _event(rows: Rows, signal_id: int, at: datetime, actor: str | None, kind: str,
           from_stage: str | None, to_stage: str | None, detail: dict | None = None) -> None:
    if rows.events:
        rows.add("signal_events", signal_id=signal_id, at=at, actor_id=actor, kind=kind,
                 from_stage=from_stage, to_stage=to_stage, detail=detail)


def _clock(rows: Rows, signal_id: int, clock: str, owner: str, start: datetime, due: datetime,
           **values: Any) -> int:
    deadline = dict(signal_id=signal_id, clock=clock, token=1, owner_id=owner, started_at=start,
                    due_at=due, state="open", met_at=None, step=0, next_step_at=None)
    deadline.update(values)
    return rows.add("deadlines", **deadline)


def _ahead(start: datetime, due: datetime, now: datetime) -> dict[str, Any]:
    """Step and next_step_at of a clock still running at `now` (reminders at 50% and 90%)."""
    steps = [start + (due - start) * f for f in (0.5, 0.9)] + [due]
    step = next(i for i, at in enumerate(steps) if at > now)
    return {"state": "open", "step": step, "next_step_at": steps[step]}


def _escalate(rows: Rows, team: Team, signal_id: int, deadline_id: int, ae: str,
              due: datetime, window: timedelta, levels: int) -> None:
    boss = team.managers[ae]
    for level in range(1, levels + 1):
        target = boss if level == 1 else team.managers.get(boss, ADMIN)
        at = due + (level - 1) * window + timedelta(seconds=20)
        rows.add("escalations", signal_id=signal_id, deadline_id=deadline_id, level=level,
                 ae_id=ae, to_ids={"users": [target]}, reason="manager", due_at=due,
                 decided_at=at)
        _event(rows, signal_id, at, None, "escalated", "handed_off", "handed_off",
               {"clock": "ack", "level": level, "to": [target], "missed_by_s": 20})


def _lifecycle(rows: Rows, rng: random.Random, team: Team, accounts: int, created: datetime,
               now: datetime) -> None:
    """One signal from logging to wherever it stands at `now`."""
    urgency = rng.choices(("hot", "warm", "watch"), (0.3, 0.5, 0.2))[0]
    if urgency == "watch":
        revisit = created + timedelta(days=30)
        closed = revisit < now
        stage = rng.choice(("lost", "not_ready")) if closed else "qualifying"
        sid = _signal(rows, rng, team, accounts, created, urgency, stage=stage,
                      handed_off_at=None, revisit_on=revisit.date(),
                      closed_at=revisit if closed else None, outcome=stage if closed else None)
        rows.tables["signals"][-1]["ae_id"] = None
        _event(rows, sid, created, None, "kept_watching", "signal", "qualifying")
        _clock(rows, sid, "revisit", rows.tables["signals"][-1]["csm_id"], created, revisit,
               state="met" if closed else "open", met_at=revisit if closed else None,
               next_step_at=None if closed else revisit)
        if closed:
            _event(rows, sid, revisit, None, "outcome", "qualifying", stage)
        return
    ack_window, contact_window = WINDOWS[urgency]
    sid = _signal(rows, rng, team, accounts, created, urgency)
    signal = rows.tables["signals"][-1]
    ae = signal["ae_id"]
    _event(rows, sid, created, signal["csm_id"], "handed_off", "signal", "handed_off",
           {"ae": ae, "ownership": "ae"})
    _ack(rows, rng, team, sid, ae, created, created + ack_window, ack_window, now)
    contact_due = created + contact_window
    contact_at = created + contact_window * rng.uniform(0.2, 1.3)
    if contact_at > now or rng.random() < 0.08:  # not contacted (yet): the clock runs or ran
        if contact_due > now:
            _clock(rows, sid, "contact", ae, created, contact_due,
                   **_ahead(created, contact_due, now))
        else:
            _clock(rows, sid, "contact", ae, created, contact_due, state="missed", step=4)
        return
    _clock(rows, sid, "contact", ae, created, contact_due, state="met", met_at=contact_at, step=2)
    signal.update(stage="contacted", contacted_at=contact_at, updated_at=contact_at,
                  acknowledged_at=signal["acknowledged_at"] or contact_at, version=5)
    _event(rows, sid, contact_at, ae, "contacted", "acknowledged", "contacted")
    closed_at = contact_at + timedelta(days=rng.uniform(3, 60))
    if closed_at > now:  # waiting for an outcome: its reminder clock runs
        due = contact_at + timedelta(days=30)
        _clock(rows, sid, "outcome", ae, contact_at, due, state="open" if due > now else "met",
               next_step_at=due if due > now else None, met_at=None if due > now else due)
        return
    outcome = rng.choices([o for o, _ in OUTCOMES], [w for _, w in OUTCOMES])[0]
    signal.update(stage=outcome, outcome=outcome, closed_at=closed_at, updated_at=closed_at,
                  won_arr=signal["est_arr"] if outcome == "won" else None, version=7)
    _clock(rows, sid, "outcome", ae, contact_at, contact_at + timedelta(days=30),
           state="cancelled")
    _event(rows, sid, closed_at, ae, "outcome", "contacted", outcome, {"reason": None})


def _ack(rows: Rows, rng: random.Random, team: Team, sid: int, ae: str, created: datetime,
         due: datetime, window: timedelta, now: datetime) -> None:
    signal = rows.tables["signals"][-1]
    acked = created + window * rng.uniform(0.05, 1.4)
    if due > now and acked > now:  # still running: its next reminder is ahead
        _clock(rows, sid, "ack", ae, created, due, **_ahead(created, due, now))
        return
    missed = acked > due
    if acked <= now:
        signal.update(stage="acknowledged", acknowledged_at=acked, version=4)
        _event(rows, sid, acked, ae, "acknowledged", "handed_off", "acknowledged")
    deadline = _clock(rows, sid, "ack", ae, created, due, state="missed" if missed else "met",
                      met_at=acked if acked <= now else None, step=4 if missed else 2)
    if missed:
        _escalate(rows, team, sid, deadline, ae, due, window, 2 if rng.random() < 0.2 else 1)


def _due(rows: Rows, rng: random.Random, team: Team, accounts: int, count: int,
         now: datetime) -> None:
    """`count` hot hand-offs whose ack clock needs the sweep now: half a reminder, half a miss.
    Each clock keeps the snapshot of the policy it started under, as the bot writes it."""
    window = WINDOWS["hot"][0]
    policy = team.config().sla_policy.snapshot()
    for i in range(count):
        started = now - (window * 0.75 if i % 2 else window * 1.25)
        sid = _signal(rows, rng, team, accounts, started, "hot")
        ae = rows.tables["signals"][-1]["ae_id"]
        _clock(rows, sid, "ack", ae, started, started + window,
               next_step_at=started + window / 2, policy=policy)
        _clock(rows, sid, "contact", ae, started, started + WINDOWS["hot"][1],
               next_step_at=started + WINDOWS["hot"][1] / 2, policy=policy)


def history(signals: int, *, now: datetime = NOW, span: timedelta = timedelta(days=365),
            seed: int = 6, team: Team, events: bool = True, copies: int = 1) -> Rows:
    """`signals` logged evenly over `span` before `now`, each as far along as it got by now.

    `copies`: how many times `load` will copy the block (accounts are made for all copies).
    """
    rng = random.Random(seed)
    rows = Rows(events=events)
    accounts = max(100, signals // 20 * copies)
    _people(rows, team, now)
    _accounts(rows, team, accounts, rng, now - span)
    step = (span - timedelta(minutes=10)) / max(signals, 1)
    for i in range(signals):
        _lifecycle(rows, rng, team, accounts, now - span + step * i, now)
    return rows


def pending(clocks: int, *, now: datetime = NOW, seed: int = 7, team: Team) -> Rows:
    """Warm hand-offs of the last two hours: `clocks` clocks, all ahead (within 30 days)."""
    rng = random.Random(seed)
    rows = Rows(events=False)
    accounts = max(100, clocks // 40)
    _people(rows, team, now)
    _accounts(rows, team, accounts, rng, now - timedelta(days=30))
    for _ in range(clocks // 2):
        created = now - timedelta(hours=rng.uniform(0, 2))
        sid = _signal(rows, rng, team, accounts, created, "warm")
        ae = rows.tables["signals"][-1]["ae_id"]
        for clock, window in zip(("ack", "contact"), WINDOWS["warm"], strict=True):
            ahead = now + timedelta(minutes=rng.uniform(1, 30 * 24 * 60))
            _clock(rows, sid, clock, ae, created, created + window, next_step_at=ahead)
    return rows


def due_block(after: Rows, count: int, *, now: datetime = NOW, seed: int = 8,
              team: Team, accounts: int) -> Rows:
    """`count` hot hand-offs whose ack clock needs the sweep now: half a reminder, half a miss.

    Ids continue from `after` (whose ids already count the copies made by `load`).
    """
    rng = random.Random(seed)
    rows = Rows(ids=dict(after.ids), events=after.events)
    _due(rows, rng, team, accounts, count, now)
    return rows


# -- loading ---------------------------------------------------------------------------------


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def copy_rows(conn: Connection, table: Table, items: Iterable[dict[str, Any]]) -> None:
    """PostgreSQL COPY ... FROM STDIN of `items`."""
    columns = [c.name for c in table.columns]
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    cursor = conn.connection.driver_connection.cursor()
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for item in items:
            copy.write_row([json.dumps(item.get(c)) if c in json_columns and item.get(c)
                            is not None else item.get(c) for c in columns])


def _executemany(conn: Connection, table: Table, items: list[dict[str, Any]]) -> None:
    """`executemany` of the table's Core INSERT, in chunks."""
    columns = {c.name for c in table.columns}
    for chunk in _chunks(items, CHUNK):
        conn.execute(table.insert(), [{c: i.get(c) for c in columns} for i in chunk])


# How each table's copy k shifts its ids (and the ids it points to) past the original block.
_POINTERS = {"signals": ("id",), "signal_events": ("id", "signal_id"),
             "deadlines": ("id", "signal_id"), "escalations": ("id", "signal_id", "deadline_id")}
_OF = {"id": None, "signal_id": "signals", "deadline_id": "deadlines"}


def _replicate(conn: Connection, table: str, copies: int, sizes: dict[str, int]) -> None:
    """INSERT ... SELECT the block `copies - 1` more times, each copy's ids shifted."""
    columns = [c.name for c in Base.metadata.tables[table].columns]
    shifted = {col: f"{col} + n * {sizes[_OF[col] or table]}" for col in _POINTERS[table]}
    select = ", ".join(shifted.get(c, c) for c in columns)
    conn.execute(text(
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {copies - 1}) "
        f"SELECT {select} FROM {table} CROSS JOIN k WHERE id <= {sizes[table]}"))


def load(engine: Engine, rows: Rows, copies: int = 1, bulk: bool = True) -> Rows:
    """Create the tables if missing, write `rows`, then `copies - 1` copies of its signals.

    The copies (same timestamps, new ids) are made by the database itself; with `bulk` the
    secondary indexes are dropped meanwhile and rebuilt at the end (and on PostgreSQL the
    foreign-key triggers are off for the load), so a million signals load in about a
    minute. People and accounts are not copied. Returns `rows` with its id counters moved
    past the copies.
    """
    Base.metadata.create_all(engine)
    postgres = engine.dialect.name == "postgresql"
    indexes = [ix for name in TABLES for ix in Base.metadata.tables[name].indexes] if bulk \
        else []
    with engine.begin() as conn:
        if postgres and bulk:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for index in indexes:
            index.drop(conn)
        for name in TABLES:
            table = Base.metadata.tables[name]
            (copy_rows if postgres else _executemany)(conn, table, rows.tables[name])
        sizes = {name: rows.ids.get(name, 0) for name in TABLES}
        if copies > 1:
            for name in _POINTERS:
                if sizes[name]:
                    _replicate(conn, name, copies, sizes)
                rows.ids[name] = sizes[name] * copies
        for index in indexes:
            index.create(conn)
    return rows


def finish(engine: Engine) -> None:
    """Move the id sequences past the loaded rows; VACUUM ANALYZE, as autovacuum would."""
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        for name in TABLES[1:] if postgres else ():
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if postgres else "ANALYZE"))


def count(engine: Engine) -> dict[str, int]:
    """Rows per table."""
    with engine.connect() as conn:
        return {name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
                for name in TABLES}


def build(engine: Engine, signals: int, *, due: int = 1000, now: datetime = NOW,
          events: bool = True, block: int = 20_000, team: Team | None = None,
          kind: str = "history") -> dict[str, int]:
    """Load `signals` signals of history (or `pending` clocks) plus `due` due clocks.

    Python builds one block of at most `block` signals; the database copies it.
    """
    team = team or TEAM
    copies = max(1, -(-signals // block))
    size = -(-signals // copies)
    if kind == "history":
        rows = history(size, now=now, team=team, events=events, copies=copies)
    else:
        rows = pending(size * 2, now=now, team=team)
    load(engine, rows, copies)
    accounts = len(rows.tables["accounts"])
    if due:
        extra = due_block(rows, due, now=now, team=team, accounts=accounts)
        extra.tables["people"] = extra.tables["accounts"] = []
        load(engine, extra, bulk=False)
    finish(engine)
    return count(engine)


_SHARED: dict[tuple[str, int, int], str] = {}


def shared_history(db: str, signals: int, due: int = 1000) -> str:
    """The URL of a database holding `history` of `signals` (with events) and `due` due
    clocks, built once per `python -m bench` run and shared by the benchmarks that only
    read it (or roll back what they change); dropped when the run ends."""
    key = (db, signals, due)
    if key not in _SHARED and (kept := keep_folder()):
        _SHARED[key] = _kept_history(kept, db, signals, due)
    if key not in _SHARED:
        url = SHARED.enter_context(database(db, f"h{signals}"))
        SHARED.callback(_SHARED.pop, key, None)
        engine = make_engine(url)
        try:
            build(engine, signals, due=due, team=TEAM)
        finally:
            engine.dispose()
        _SHARED[key] = url
    return _SHARED[key]


def _kept_history(folder: str, db: str, signals: int, due: int) -> str:
    """`history` kept between runs (SIGNALBOT_BENCH_KEEP): a SQLite file in `folder`, or the
    PostgreSQL schema `bench_keep_h<signals>_<due>`, built the first time and reused after.
    Its indexes follow the models: those added since the build are made, those dropped since
    are dropped (then ANALYZE)."""
    url = kept_database(db, folder, f"h{signals}_{due}")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            built = engine.dialect.has_table(conn, "signals") and \
                conn.execute(text("SELECT count(*) FROM deadlines")).scalar_one() > 0
        if not built:
            build(engine, signals, due=due, team=TEAM)
        else:
            _follow_indexes(engine)
    finally:
        engine.dispose()
    return url


def _follow_indexes(engine: Engine) -> None:
    """Make a kept database's columns and `ix_` indexes those of the models (columns added
    since are added, nullable; an index whose columns changed is made again)."""
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            table.create(conn, checkfirst=True)
            have = {c["name"] for c in inspect(conn).get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" '
                                      f'{kind}'))
            wanted = {index.name: [c.name for c in index.columns] for index in table.indexes}
            for found in inspect(conn).get_indexes(table.name):
                if found["name"].startswith("ix_") and \
                        wanted.get(found["name"]) != found["column_names"]:
                    conn.execute(text(f'DROP INDEX "{found["name"]}"'))
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
