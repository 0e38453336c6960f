"""Settled weeks' SLA figures, kept by the digest (service/sla_weeks.py): when a week is kept,
that it is kept once and read back, and that the digest's figures with and without the kept
weeks are the same through every late change the protocol makes (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import delete, event, func, insert, select, update

from protocol.digest import Tally
from service import away, extensions
from service import signals as ops
from service.digest import compute_digest, sla_by_week, sla_weeks, week_bounds
from service.sla_weeks import RULES, SETTLE, count_weeks
from service.sweep import owner_unreachable
from storage.models import Deadline, Escalation, Extension, SlaRollup, SlaRollupWeek
from tests.people import AE, AE2, MGR
from tests.test_digest import NOW, WEEK_END, WEEK_START, History, build_history

AE3 = "U0AE00003"  # no manager: escalates to the admins
WEEK_A = datetime(2026, 11, 2, 5, tzinfo=UTC)  # Monday 00:00 in New York
WEEK_B, WEEK_C, WEEK_D = (WEEK_A + timedelta(days=7 * n) for n in (1, 2, 3))


def kept_weeks(services) -> list[tuple[datetime, int]]:
    """(start, rows) of each kept week, oldest first."""
    with services.unit_of_work() as session:
        return [(start, rows) for start, rows in session.execute(
            select(SlaRollupWeek.starts, func.count(SlaRollup.id))
            .outerjoin(SlaRollup, SlaRollup.week_id == SlaRollupWeek.id)
            .group_by(SlaRollupWeek.id, SlaRollupWeek.starts).order_by(SlaRollupWeek.starts))]


def sla_figures(digest) -> tuple:
    """Every SLA figure of a digest: the trend, the week's and the week before's."""
    return (digest.sla_weeks,
            *[(w.ack, w.contact, w.per_ae, w.per_policy) for w in (digest.week, digest.previous)])


# -- what is kept, when -----------------------------------------------------------------------


def test_the_digest_keeps_its_settled_weeks_once_and_reads_them_back(services):
    build_history(services)
    with services.unit_of_work() as session:
        first = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    kept = kept_weeks(services)
    # the trend's eight weeks but the last: it ended this morning and S6's clocks are open
    assert [start for start, _ in kept] == [
        week_bounds(NOW, services.config, date(2026, 11, 16) - timedelta(days=7 * n))[0]
        for n in range(7, 0, -1)]
    assert dict(kept)[WEEK_START - timedelta(days=7)] == 2  # P1: AE's ack and contact
    with services.unit_of_work() as session:
        again = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
        live = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW,
                              rollups=False)
    assert kept_weeks(services) == kept  # nothing written twice
    assert sla_figures(first) == sla_figures(again) == sla_figures(live)
    assert first.previous.ack == Tally(1, 1, 0)
    # what is read is what was kept: change a kept figure and the digest shows it
    with services.unit_of_work() as session:
        session.execute(update(SlaRollup).values(met=0))
        forged = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
        session.rollback()
    assert forged.previous.ack == Tally(0, 1, 0)
    assert forged.week.ack == first.week.ack  # the week is counted from its clocks


def counts_sent(services, compute) -> list[str]:
    """The statements that count SLA clocks by week while `compute()` runs."""
    sent: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if "JOIN deadlines" in statement and "weeks" in statement:
            sent.append(statement)

    event.listen(services.engine, "before_cursor_execute", seen)
    try:
        compute()
    finally:
        event.remove(services.engine, "before_cursor_execute", seen)
    return sent


def test_once_its_weeks_are_kept_the_digest_counts_only_the_live_week(services):
    build_history(services)

    def digest() -> None:
        with services.unit_of_work() as session:
            compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)

    [first] = counts_sent(services, digest)
    assert first.count("UNION ALL") == 7  # the trend's eight weeks, in one statement
    [then] = counts_sent(services, digest)
    assert "UNION ALL" not in then  # the week alone; the seven before it are read as kept


def test_a_week_kept_by_someone_else_first_is_left_alone(services):
    """Two digests at once: the second's INSERT of the week does nothing (ON CONFLICT), and
    it writes no figures of its own for it."""
    build_history(services)
    previous = (WEEK_START - timedelta(days=7), WEEK_START)
    with services.unit_of_work() as session:
        session.execute(insert(SlaRollupWeek).values(starts=previous[0], ends=previous[1],
                                                     rules=RULES, rolled_at=NOW))
    with services.unit_of_work() as session:
        compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    kept = dict(kept_weeks(services))
    assert kept[previous[0]] == 0 and len(kept) == 7


def test_weeks_kept_under_other_rules_are_counted_again(services):
    build_history(services)
    with services.unit_of_work() as session:
        compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
        session.execute(update(SlaRollupWeek).values(rules=RULES + 1))
        session.execute(update(SlaRollup).values(met=0))
    with services.unit_of_work() as session:
        d = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    assert d.previous.ack == Tally(1, 1, 0)
    assert len(kept_weeks(services)) == 14  # seven more, under these rules


def clock(services, **values) -> int:
    """A bare acknowledge clock (of a signal of `build_history`)."""
    with services.unit_of_work() as session:
        return session.execute(insert(Deadline).values(
            clock="ack", owner_id=AE, step=0, **values).returning(Deadline.id)).scalar_one()


def test_a_week_is_settled_only_when_nothing_in_it_can_change(services):
    ids = build_history(services)  # (for the signals the clocks below belong to)
    sid = ids["O1"]
    week = (WEEK_A, WEEK_B)
    started = WEEK_A + timedelta(days=1)
    open_id = clock(services, signal_id=sid, started_at=started, due_at=started +
                    timedelta(hours=4), state="open", token=11)
    missed = clock(services, signal_id=sid, started_at=started, due_at=started +
                   timedelta(hours=4), state="missed", token=12)

    def kept_at(now: datetime) -> bool:
        with services.unit_of_work() as session:
            count_weeks(session, [week], now, remember=True)
        return any(start == WEEK_A for start, _ in kept_weeks(services))

    assert not kept_at(WEEK_B + timedelta(days=3))  # an open clock
    with services.unit_of_work() as session:
        session.execute(update(Deadline).where(Deadline.id == open_id).values(
            state="met", met_at=started + timedelta(hours=1)))
        # a missed clock: settled once its due time is SETTLE behind
        session.execute(update(Deadline).where(Deadline.id == missed).values(
            due_at=WEEK_B + timedelta(days=2)))
    assert not kept_at(WEEK_B + timedelta(days=2) + SETTLE - timedelta(seconds=1))
    with services.unit_of_work() as session:
        session.execute(update(Deadline).where(Deadline.id == missed).values(
            due_at=started + timedelta(hours=4)))
    assert not kept_at(WEEK_B + SETTLE - timedelta(seconds=1))  # ended too recently
    assert kept_at(WEEK_B + SETTLE)
    with services.unit_of_work() as session:
        [figures] = sla_by_week(session, [week], WEEK_B + SETTLE, per_owner=True)
    assert figures.ack == Tally(met=1, counted=2)


def test_the_home_trend_reads_kept_weeks_of_its_owners_only(services):
    build_history(services)
    with services.unit_of_work() as session:
        compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    last_monday = date(2026, 11, 16)
    for owners in ([AE], [AE2], [], None):
        with services.unit_of_work() as session:
            kept = sla_weeks(session, services.config, last_monday, NOW, owners=owners)
            with session.no_autoflush:
                session.execute(delete(SlaRollup))
                session.execute(delete(SlaRollupWeek))
                live = sla_weeks(session, services.config, last_monday, NOW, owners=owners)
            session.rollback()
        assert kept == live
    assert any(w.ack.counted for w in kept)


# -- late changes: the figures with and without kept weeks are the same ------------------------


def asked(session, config, signal, now) -> None:
    """The AE asks for contact by 10 Nov."""
    extensions.ask(session, config, signal, AE, date(2026, 11, 10), "Buyer travelling", now)


def approved(session, config, signal, now) -> None:
    """The manager approves the signal's request."""
    extension = session.scalars(select(Extension).where(Extension.signal_id == signal.id)).one()
    extensions.decide(session, config, signal, extension.id, MGR, True, now)


def check(services, seen: list) -> None:
    """The digest of last week as of now, with and without the kept weeks (the first keeps
    what it finds settled), and every week's figures per holder since the first one."""
    config, now = services.config, services.now()
    start, end = week_bounds(now, config)
    bounds = [week_bounds(now, config, (WEEK_A + timedelta(days=7 * n)).date())
              for n in range(4) if WEEK_A + timedelta(days=7 * n) < end]
    with services.unit_of_work() as session:
        kept = compute_digest(session, config, start, end, now)
        live = compute_digest(session, config, start, end, now, rollups=False)
        assert sla_figures(kept) == sla_figures(live), now
        weekly = sla_by_week(session, bounds, now, per_owner=True)
        assert weekly == sla_by_week(session, bounds, now, per_owner=True, rollups=False), now
    seen.append((now, [w for w, _ in kept_weeks(services)]))


def test_late_changes_never_make_the_kept_figures_differ(services):
    """Hand-offs of one week that change after it ended: an extension keeps a contact clock
    open into the next week; an ack missed then met late; a reassignment while open (the
    clock drops out) and one after the miss (it stays a miss); cover while away, including a
    clock that started before the period and a miss while the cover held it; an owner Slack
    says is gone; a miss met long after the week was kept, and one reassigned then. The
    digest is taken every six hours and after each change, with and without kept weeks."""
    ack, contact = ops.acknowledge, ops.log_contact
    seen: list = []
    with freeze_time("2026-11-02 12:00:00") as frozen:
        h = History(services, frozen)
        steps: list[tuple[str, object]] = []

        def at(when: str, action) -> None:
            steps.append((when, action))

        ids: dict[str, int] = {}

        def log(name: str, when: str, **kw) -> None:
            at(when, lambda: ids.__setitem__(name, h.log(when, f"Account {name}", **kw)))

        def do(when: str, operation, name: str, *args) -> None:
            at(when, lambda: h.do(when, operation, ids[name], *args))

        def swept(when: str) -> None:
            at(when, lambda: h.sweep(when))

        def in_session(when: str, operation) -> None:
            """`operation(session, config, now)` at `when`, in its own unit of work."""
            def run() -> None:
                now = h._at(when)
                with services.unit_of_work() as session:
                    operation(session, services.config, now)
            at(when, run)

        # week A (2-8 Nov)
        log("a1", "2026-11-03 14:00")
        do("2026-11-03 15:00", ack, "a1", AE)
        do("2026-11-04 10:00", asked, "a1")
        do("2026-11-04 11:00", approved, "a1")
        log("a2", "2026-11-03 16:00")
        swept("2026-11-03 20:30")  # a2's ack escalated
        do("2026-11-03 22:00", ack, "a2", AE)  # late
        do("2026-11-04 12:00", contact, "a2", AE)
        log("a3", "2026-11-04 14:00")
        do("2026-11-04 15:00", ops.reassign, "a3", AE2, "Territory", MGR)  # open: dropped
        do("2026-11-04 16:00", ack, "a3", AE2)
        do("2026-11-05 10:00", contact, "a3", AE2)
        log("a4b", "2026-11-05 10:30")  # started before the away period
        in_session("2026-11-05 13:00", lambda s, c, n: (
            away.set_away(s, c, AE, AE, None, date(2026, 11, 6), AE2, None, n),
            away.reconcile(s, c, n)))
        log("a4", "2026-11-05 14:00")
        do("2026-11-05 15:00", ack, "a4", AE2)
        swept("2026-11-05 14:31")  # a4b's ack missed while the cover held it
        swept("2026-11-06 14:30")  # a4's contact missed while the cover held it
        log("a5", "2026-11-06 14:00")
        log("a7", "2026-11-06 15:00")
        swept("2026-11-06 19:30")  # a5's and a7's acks escalated
        do("2026-11-06 20:00", ops.reassign, "a5", AE2, "Territory", MGR)  # after the miss
        do("2026-11-06 21:00", ack, "a5", AE2)
        in_session("2026-11-07 06:00", away.reconcile)  # AE is back
        do("2026-11-07 16:00", contact, "a4", AE)  # late
        do("2026-11-07 17:00", ack, "a4b", AE)  # late
        log("a6", "2026-11-07 14:00", ae=AE3)
        in_session("2026-11-07 15:00", lambda s, c, n: owner_unreachable(
            s, c, AE3, n, "account_inactive"))
        do("2026-11-08 12:00", contact, "a4b", AE)  # late
        swept("2026-11-07 15:01")
        swept("2026-11-07 21:30")  # a5's contact (AE2) missed
        # week B (9-15 Nov)
        log("b1", "2026-11-09 14:00", urgency="warm")
        do("2026-11-09 20:00", ack, "b1", AE)
        do("2026-11-10 12:00", contact, "a1", AE)  # within the extended deadline
        swept("2026-11-12 14:00")  # b1's contact missed
        do("2026-11-12 16:00", contact, "a5", AE2)  # week A's miss, met long after
        do("2026-11-13 10:00", ops.reassign, "a7", AE2, "Territory", MGR)  # week A's miss
        do("2026-11-13 12:00", contact, "b1", AE)
        # week C (16-22 Nov)
        log("c1", "2026-11-17 14:00", urgency="warm")
        do("2026-11-17 15:00", ack, "c1", AE)

        start = datetime(2026, 11, 2, 12, tzinfo=UTC)
        for n in range(4 * 23):  # every six hours to 25 Nov
            when = start + timedelta(hours=6 * n)
            steps.append((when.strftime("%Y-%m-%d %H:%M"), None))
        steps.sort(key=lambda step: step[0])
        for when, action in steps:
            if action is None:
                h.sweep(when)
                with services.unit_of_work() as session:
                    away.reconcile(session, services.config, services.now())
            else:
                action()
            check(services, seen)
    kept_when = {week: next(now for now, weeks in seen if week in weeks)
                 for week in (WEEK_A, WEEK_B, WEEK_C)}
    # week A: not before a1's extended contact clock was met (10 Nov 12:00)
    assert datetime(2026, 11, 10, 12, tzinfo=UTC) <= kept_when[WEEK_A] <= datetime(
        2026, 11, 10, 18, tzinfo=UTC)
    # week B: b1's contact missed 12 Nov 14:00 and met 13 Nov; the week ended 16 Nov 05:00
    assert kept_when[WEEK_B] <= datetime(2026, 11, 17, 6, tzinfo=UTC)
    # week C: c1's contact missed on 20 Nov and never met; kept a day after the week ended
    assert WEEK_D + SETTLE <= kept_when[WEEK_C] <= WEEK_D + SETTLE + timedelta(hours=6)
    with services.unit_of_work() as session:
        a_clocks = session.execute(select(Deadline.clock, Deadline.state, Deadline.held_by,
                                          func.count()).where(
            Deadline.started_at >= WEEK_A, Deadline.started_at < WEEK_B,
            Deadline.clock.in_(("ack", "contact")))
            .group_by(Deadline.clock, Deadline.state, Deadline.held_by)).all()
        escalated = session.scalar(select(func.count(func.distinct(Escalation.deadline_id))))
    # met, cancelled, and a6's clocks still missed (its AE is gone)
    assert {state for _, state, _, _ in a_clocks} == {"met", "cancelled", "missed"}
    assert any(held == AE2 for _, _, held, _ in a_clocks) and escalated >= 6
