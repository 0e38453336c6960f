"""The weekly digest: figures from a known history, an empty week, 2,000 signals, the schedule."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import func, insert, select

from blocks.digest import digest_blocks, digest_text, quality_blocks
from bot.delivery import make_client
from bot.worker import Worker
from protocol.digest import Tally
from protocol.record import SignalDraft
from service import capture
from service import signals as ops
from service.digest import (
    compute_digest,
    enqueue_weekly_digest,
    scheduled_at,
    week_bounds,
)
from service.sweep import sweep
from storage.models import (
    Account,
    Deadline,
    Escalation,
    OutboxMessage,
    Person,
    Signal,
    SignalEvent,
)
from storage.queries import signal_for_update
from tests.conftest import make_services
from tests.people import AE, AE2, CSM, MGR, roster_config
from tests.support import validate_message_blocks as validate

CSM2, AE3 = "U0CSM0002", "U0AE00003"
QUALIFIED = {"budget": True, "buyer": True, "timeline": True}
KINDS = {"product": "seat_utilisation", "relationship": "budget_mentioned",
         "behavioral": "competitor_mentioned"}
WEEK_START = datetime(2026, 11, 16, 5, tzinfo=UTC)  # Monday 00:00 in New York (EST)
WEEK_END = datetime(2026, 11, 23, 5, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # Monday 09:30 in New York
ODD_NAME = "Smith & Sons <Ltd>"


# -- helpers: walk signals through the real service functions -----------------------------


def draft(account: str, urgency: str = "hot", category: str = "product", ae: str | None = AE,
          qualified: bool = True, est: str | None = None) -> SignalDraft:
    """A five-field record; qualified ones pass the default rubric, others become watch items."""
    return SignalDraft(
        account=account, category=category, kind=KINDS[category], buyer_name="Jamie Reyes",
        timeline="Q3", note="Heard on the QBR.", urgency=urgency, ae_id=ae,
        est_arr=Decimal(est) if est else None,
        answers=dict(QUALIFIED) if qualified else {"budget": True},
    )


@dataclass
class History:
    """Moves the frozen clock and runs one service call per unit of work."""

    services: object
    clock: object

    def _at(self, when: str) -> datetime:
        self.clock.move_to(when)
        return self.services.now()

    def log(self, when: str, account: str, csm: str = CSM, **kw) -> int:
        now = self._at(when)
        with self.services.unit_of_work() as session:
            return capture.log_signal(session, self.services.config, draft(account, **kw), csm,
                                  now).signal.id

    def do(self, when: str, operation, signal_id: int, *args, **kw) -> None:
        now = self._at(when)
        with self.services.unit_of_work() as session:
            signal = signal_for_update(session, signal_id)
            operation(session, self.services.config, signal, *args, now, **kw)

    def sweep(self, when: str) -> None:
        now = self._at(when)
        with self.services.unit_of_work() as session:
            sweep(session, self.services.config, now)


def build_history(services) -> dict[str, int]:
    """The known history the figures below are computed from by hand (times are UTC).

    Before the quarter's last weeks: O1..O5. Previous week (9-15 Nov): P1, P2.
    The week (16-22 Nov, New York): S1..S6. The digest is taken on Mon 23 Nov 14:30.
    """
    ack, contact, outcome = ops.acknowledge, ops.log_contact, ops.record_outcome
    with freeze_time("2026-09-01 14:00:00") as clock:
        h = History(services, clock)
        ids = {"O3": h.log("2026-09-01 14:00", "Initech", est="4000")}
        h.do("2026-09-01 15:00", ack, ids["O3"], AE)
        h.do("2026-09-02 10:00", contact, ids["O3"], AE)
        ids["O4"] = h.log("2026-09-10 14:00", "Umbrella", CSM2, urgency="warm",
                          category="relationship", ae=AE2)
        h.do("2026-09-10 16:00", ack, ids["O4"], AE2)
        h.do("2026-09-11 10:00", contact, ids["O4"], AE2)
        h.do("2026-10-15 14:00", outcome, ids["O4"], "lost", AE2, reason="No budget")
        ids["O1"] = h.log("2026-10-01 14:00", "Hooli")
        h.do("2026-10-01 15:00", ack, ids["O1"], AE)
        h.do("2026-10-02 10:00", contact, ids["O1"], AE)
        ids["O2"] = h.log("2026-10-05 14:00", "Vandelay", CSM2, urgency="warm",
                          category="behavioral", qualified=False)
        ids["O5"] = h.log("2026-10-20 14:00", "Stark", urgency="warm", ae=AE3)
        h.do("2026-10-20 15:00", ack, ids["O5"], AE3)
        h.do("2026-10-21 10:00", contact, ids["O5"], AE3)
        # the previous week
        ids["P1"] = h.log("2026-11-10 15:00", "Wayne")
        h.do("2026-11-10 16:00", ack, ids["P1"], AE)
        h.do("2026-11-11 10:00", contact, ids["P1"], AE)
        ids["P2"] = h.log("2026-11-12 15:00", "Wonka", urgency="warm", category="relationship",
                          qualified=False)
        # the week
        ids["S1"] = h.log("2026-11-16 14:00", "Globex", est="10000")
        h.do("2026-11-16 15:00", ack, ids["S1"], AE)
        ids["S2"] = h.log("2026-11-16 16:00", "Soylent", category="behavioral")
        h.sweep("2026-11-16 20:00:01")  # S2 ack escalated, 1 s after due
        h.do("2026-11-16 21:00", ack, ids["S2"], AE)  # late
        h.do("2026-11-17 10:00", contact, ids["S1"], AE)
        h.do("2026-11-17 12:00", contact, ids["S2"], AE)
        ids["S3"] = h.log("2026-11-17 14:00", "Tyrell", CSM2, urgency="warm",
                          category="relationship", ae=AE2)
        h.do("2026-11-17 20:00", ack, ids["S3"], AE2)
        h.do("2026-11-18 14:00", outcome, ids["S1"], "won", AE, won_arr=Decimal("25000"))
        ids["S4"] = h.log("2026-11-18 14:00:30", "Cyberdyne")
        h.sweep("2026-11-18 18:30")  # S4 ack escalated, 30 min late
        h.do("2026-11-18 19:00", ops.reassign, ids["S4"], AE2, "Territory", MGR)
        h.do("2026-11-18 20:00", ack, ids["S4"], AE2)
        ids["S5"] = h.log("2026-11-19 14:00", "Acme", CSM2, urgency="warm", category="behavioral",
                          ae=AE2, qualified=False)
        h.do("2026-11-19 15:00", outcome, ids["S2"], "lost", AE)
        h.do("2026-11-19 18:00", contact, ids["S4"], AE2)
        h.do("2026-11-20 10:00", outcome, ids["O3"], "won", AE, won_arr=Decimal("5000"))
        h.sweep("2026-11-20 14:00:31")  # S3 contact escalated, 1 s late
        h.sweep("2026-11-21 15:00")  # ... and again at level 2, 1 h late
        ids["S6"] = h.log("2026-11-22 20:00", ODD_NAME)
        h.sweep("2026-11-23 04:30")  # S6 ack: levels 1 and 2 at once, 4.5 h and 0.5 h late
        clock.move_to(NOW)
    with services.unit_of_work() as session:
        session.add(OutboxMessage(key="held:test", kind="slack.post", target=AE, payload={},
                                  status="held", due_at=NOW, next_try_at=NOW, created_at=NOW))
        session.add(Person(slack_id=AE, name="Alex AE", deactivated=False))
    return ids


@pytest.fixture
def history(services):
    ids = build_history(services)
    with services.unit_of_work() as session:
        digest = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    return ids, digest


# -- the week -------------------------------------------------------------------------------


def test_week_bounds_are_monday_to_monday_in_the_configured_zone(config):
    assert week_bounds(NOW, config) == (WEEK_START, WEEK_END)
    assert week_bounds(NOW, config, date(2026, 11, 22)) == (WEEK_START, WEEK_END)
    assert week_bounds(NOW, config, date(2026, 11, 23))[0] == WEEK_END
    # the week of the switch back from daylight time is 169 hours long
    start, end = week_bounds(NOW, config, date(2026, 10, 28))
    assert start == datetime(2026, 10, 26, 4, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 5, tzinfo=UTC)
    # just before Monday midnight in New York, "last week" is still the one before
    assert week_bounds(datetime(2026, 11, 23, 4, 59, tzinfo=UTC), config)[1] == WEEK_START


def test_the_schedule_is_the_configured_weekday_and_time(config):
    assert scheduled_at(NOW, config) == datetime(2026, 11, 23, 14, tzinfo=UTC)
    friday = roster_config(digest_weekday=4, digest_time=time(16, 30))
    assert scheduled_at(NOW, friday) == datetime(2026, 11, 27, 21, 30, tzinfo=UTC)


# -- figures from a known history ------------------------------------------------------------


def test_signals_logged_with_trend(history):
    _, d = history
    week, before = d.week.signals, d.previous.signals
    assert (week.total, week.qualified, week.watch) == (6, 5, 1)
    assert week.by_urgency == {"hot": 4, "warm": 2}
    assert week.by_category == {"product": 3, "behavioral": 2, "relationship": 1}
    assert (before.total, before.qualified, before.watch) == (2, 1, 1)
    assert before.by_urgency == {"hot": 1, "warm": 1}


def test_sla_attainment_per_ae_and_overall(history):
    _, d = history
    # AE: S1 ack in time; S2 ack late; S4 ack missed (then reassigned); S6 ack missed.
    #     contact: S1 and S2 in time; S6 not due yet (pending); S4's first contact clock
    #     was cancelled by the reassignment before it was due: not counted.
    # AE2: S3 and S4 acknowledged in time; S3 contact missed, S4 contact in time.
    per_ae = {row.ae_id: row for row in d.week.per_ae}
    assert [row.ae_id for row in d.week.per_ae] == [AE, AE2]
    assert per_ae[AE].ack == Tally(met=1, counted=4, pending=0)
    assert per_ae[AE].contact == Tally(met=2, counted=2, pending=1)
    assert per_ae[AE2].ack == Tally(met=2, counted=2, pending=0)
    assert per_ae[AE2].contact == Tally(met=1, counted=2, pending=0)
    assert d.week.ack == Tally(met=3, counted=6, pending=0)
    assert d.week.contact == Tally(met=3, counted=4, pending=1)
    assert (d.week.ack.share, d.week.contact.share) == (0.5, 0.75)
    assert d.previous.ack == Tally(1, 1, 0) and d.previous.contact == Tally(1, 1, 0)


def test_escalations_per_ae_lateness_and_still_open(history):
    ids, d = history
    esc = d.week.escalations
    assert esc.total == 6
    assert esc.max_late_s == pytest.approx(4.5 * 3600, abs=0.01)
    assert esc.avg_late_s == pytest.approx((1 + 1800 + 1 + 3600 + 16200 + 1800) / 6, abs=0.01)
    assert [(r.ae_id, r.escalations, r.signals, r.still_open) for r in esc.per_ae] == [
        (AE, 4, 3, 2), (AE2, 2, 1, 1)]
    assert esc.open_signals == 3
    assert [i.signal_id for i in esc.open_items] == [ids["S3"], ids["S4"], ids["S6"]]
    assert d.previous.escalations.total == 0
    assert d.previous.escalations.max_late_s is None


def test_outcomes_closed_in_the_week(history):
    _, d = history
    out = d.week.outcomes
    assert (out.won, out.won_arr, out.lost, out.deferred, out.not_ready) == (
        2, Decimal("30000"), 1, 0, 0)
    assert d.previous.outcomes.won == 0 and d.previous.outcomes.lost == 0


def test_funnel_for_the_week_and_the_rolling_quarter(history):
    _, d = history
    f = d.week.funnel
    assert (f.logged, f.qualified, f.handed_off, f.contacted, f.won) == (6, 5, 5, 3, 1)
    q = d.quarter_funnel
    assert d.quarter_start == WEEK_END - timedelta(days=90)
    assert (q.logged, q.qualified, q.handed_off, q.contacted, q.won) == (13, 10, 10, 8, 2)


def test_signal_quality_per_csm_over_the_quarter(history):
    _, d = history
    assert [(r.csm_id, r.routed, r.won, r.closed) for r in d.csm_quality] == [
        (CSM, 8, 2, 3), (CSM2, 2, 0, 1)]
    assert d.csm_quality[0].share == 0.25


def test_stalled_now(history):
    ids, d = history
    st = d.stalled
    assert st.unacknowledged == 1 and [i.signal_id for i in st.unacknowledged_items] == [
        ids["S6"]]
    assert st.awaiting_outcome == 2 and [i.signal_id for i in st.awaiting_items] == [
        ids["O1"], ids["O5"]]
    assert st.overdue_watch == 1 and st.watch_items[0].revisit_on == date(2026, 11, 4)
    assert st.roster_gaps == [AE3]
    assert st.held == 1


def test_the_post_and_the_text_show_the_figures(history):
    ids, d = history
    text, blocks = digest_blocks(d)
    validate(blocks)
    body = str(blocks)
    assert "6 (▲4 vs last week)" in body
    assert "50% · 3 of 6 (▼50 pts vs last week)" in body
    assert "75% · 3 of 4, 1 pending (▼25 pts vs last week)" in body
    # people with a known name are named, not pinged; the others are mentioned
    table = next(b for b in blocks if b["type"] == "table")
    assert [c["text"] for c in table["rows"][1]] == ["Alex AE", "4", "1/4 (25%)", "2/2 (100%)",
                                                     "1"]
    assert ("Alex AE — Hand-offs 4 · Ack within SLA 1/4 (25%) · Contact within SLA 2/2 (100%)"
            " · Pending 1") in text
    assert f"<@{AE}>" not in body
    assert "Smith &amp; Sons &lt;Ltd&gt;" in body and ODD_NAME not in body
    assert "ARR 30,000" in body and f"<@{AE3}>" in body
    assert "escalated on average 1h 5m after the deadline (at most 4h 30m)" in body
    assert "logged 13 → qualified 10 (77%)" in body
    assert "acknowledged 4 (80%) → contacted 3 (75%)" in body
    assert "signalbot export --since 2026-11-16" in body
    assert text.startswith("Weekly expansion digest, 16–22 Nov 2026: 6 signals logged, 2 won")
    plain = digest_text(d)
    assert any(line.split()[:2] == ["Alex", "AE"] and "1/4 (25%)" in line
               for line in plain.splitlines())
    assert ODD_NAME in plain and "<@" not in plain


def test_an_empty_week(services):
    with services.unit_of_work() as session:
        d = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    assert d.week.signals.total == 0 and d.week.ack == Tally() and d.week.escalations.total == 0
    assert d.week.outcomes.won_arr == 0 and d.csm_quality == [] and d.stalled.held == 0
    text, blocks = digest_blocks(d)
    validate(blocks)
    assert "0 signals logged" in text
    assert "no hand-offs" in str(blocks)
    assert "Signals logged: 0 (same as last week)" in digest_text(d)


# -- 2,000 signals ---------------------------------------------------------------------------


def bulk_week(services, n: int = 2000, aes: int = 37, csms: int = 23) -> dict:
    """Insert `n` signals (and their clocks, escalations, outcome events) in a few statements;
    return the figures expected, computed here in Python from the same rules."""
    step = (WEEK_END - WEEK_START) / (n + 1)
    accounts, signals, clocks, escalations, events = [], [], [], [], []
    expect = {"qualified": 0, "ack": Tally(), "contact": Tally(), "escalations": 0, "won": 0,
              "won_arr": Decimal(0), "unacked": 0, "per_ae_ack": {}}
    for i in range(1, n + 1):
        created = WEEK_START + step * i
        ae, csm = f"U0BULKAE{i % aes:02d}", f"U0BULKCS{i % csms:02d}"
        if i % 10 == 1:
            name = ("&" * 200) if i == 1 else f"Account {i} & <Co>" + "x" * 150
            accounts.append({"id": i, "name": name, "name_key": f"k{i}", "created_at": created})
        qualified = i % 5 != 0
        stage = ("handed_off", "acknowledged", "contacted", "won")[i % 4] if qualified \
            else "qualifying"
        row = {"id": i, "account_id": i - (i - 1) % 10, "csm_id": csm, "ae_id": ae,
               "category": ("product", "relationship", "behavioral")[i % 3],
               "kind": "x", "buyer_name": "B", "timeline": "Q3", "note": "n",
               "urgency": "hot", "stage": stage, "created_at": created, "updated_at": created,
               "token": 1, "version": 1, "ownership": "ae", "source": "bulk",
               "revisit_on": None if qualified else date(2026, 11, 1)}
        signals.append(row)
        if not qualified:
            continue
        expect["qualified"] += 1
        row["handed_off_at"] = created
        ack_met = None if stage == "handed_off" else created + timedelta(hours=5 if i % 7 == 0
                                                                          else 1)
        contact_met = created + timedelta(hours=2) if stage in ("contacted", "won") else None
        for offset, clock, due_h, met in ((0, "ack", 4, ack_met), (n, "contact", 24, contact_met)):
            due = created + timedelta(hours=due_h)
            state = "met" if met else ("missed" if clock == "ack" else "open")
            clocks.append({"id": i + offset, "signal_id": i, "clock": clock, "token": 1,
                           "owner_id": ae, "started_at": created, "due_at": due, "state": state,
                           "met_at": met, "step": 0})
            tally = Tally(met=int(bool(met) and met <= due),
                          pending=int(state == "open" and due > NOW))
            tally.counted = 1 - tally.pending
            expect[clock].add(tally)
            if clock == "ack":
                expect["per_ae_ack"].setdefault(ae, Tally()).add(tally)
        if stage == "handed_off":
            decided = created + timedelta(hours=4, minutes=i % 60)
            escalations.append({"signal_id": i, "deadline_id": i, "level": 1, "ae_id": ae,
                                "to_ids": {"users": [MGR]}, "reason": "missed",
                                "due_at": created + timedelta(hours=4), "decided_at": decided})
            expect["escalations"] += decided < WEEK_END
            expect["unacked"] += 1
        row["contacted_at"] = contact_met
        if stage == "won":
            row.update(outcome="won", won_arr=Decimal(1000 + i),
                       closed_at=created + timedelta(hours=3))
            events.append({"signal_id": i, "at": row["closed_at"], "kind": "outcome",
                           "from_stage": "contacted", "to_stage": "won"})
            if row["closed_at"] < WEEK_END:
                expect["won"] += 1
                expect["won_arr"] += Decimal(1000 + i)
    for row in signals:  # one shape for every row: a single executemany
        for key in ("handed_off_at", "outcome", "won_arr", "closed_at", "contacted_at"):
            row.setdefault(key, None)
    with services.unit_of_work() as session:
        for model, rows in ((Account, accounts), (Signal, signals), (Deadline, clocks),
                            (Escalation, escalations), (SignalEvent, events)):
            if rows:  # a quiet week may have no escalation or outcome at all
                session.execute(insert(model), rows)
    return expect


def test_two_thousand_signals_fit_slack_and_add_up(services):
    expect = bulk_week(services)
    with services.unit_of_work() as session:
        d = compute_digest(session, services.config, WEEK_START, WEEK_END, NOW)
    assert d.week.signals.total == 2000
    assert d.week.signals.qualified == expect["qualified"] == 1600
    assert d.week.ack == expect["ack"] and d.week.contact == expect["contact"]
    assert {r.ae_id: r.ack for r in d.week.per_ae} == expect["per_ae_ack"]
    assert len(d.week.per_ae) == 37 and len(d.csm_quality) == 23
    assert d.week.escalations.total == expect["escalations"]
    assert (d.week.outcomes.won, d.week.outcomes.won_arr) == (expect["won"], expect["won_arr"])
    assert d.stalled.unacknowledged == expect["unacked"] and d.stalled.overdue_watch == 400
    text, blocks = digest_blocks(d)
    validate(blocks)
    body = str(blocks)
    assert "and 27 more" in body  # 37 AEs: ten shown in the lists
    assert "Signal quality by CSM* (23 CSMs): in the next message" in body
    assert "&amp;" * 60 in body or "&amp;" * 59 in body
    assert len(text) <= 4000
    quality_text, quality = quality_blocks(d)
    validate(quality)
    [table] = [b for b in quality if b["type"] == "table"]
    assert len(table["rows"]) == 1 + 23 and len(quality_text) <= 4000
    assert [c["text"] for c in table["rows"][0]] == ["CSM", "Routed", "Won", "Won share",
                                                     "Closed"]
    assert sum(int(row[1]["text"].replace(",", "")) for row in table["rows"][1:]) == \
        sum(q.routed for q in d.csm_quality)


# -- the weekly post -------------------------------------------------------------------------


def digest_rows(services) -> list[OutboxMessage]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.key.like("digest:%"))))


def test_posted_once_when_due_even_by_two_workers(slack):
    with freeze_time("2026-11-23 13:59:00") as clock:
        assert enqueue_weekly_digest(slack.services) is False  # 08:59 in New York
        clock.move_to("2026-11-23 14:00:00")
        assert enqueue_weekly_digest(slack.services) is True
        assert enqueue_weekly_digest(slack.services) is False
        other = Worker(slack.services, make_client("xoxb-test", slack.standin.base_url))
        slack.sweep()
        other.sweep_once()
        [row] = digest_rows(slack.services)
        assert row.key == "digest:2026-11-16" and row.target == "C0DIGEST01"
        tally = slack.deliver()
    assert tally.held == 0
    [message] = slack.standin.messages("C0DIGEST01")
    assert message["text"].startswith("Weekly expansion digest, 16–22 Nov 2026")
    assert not slack.standin.rejections and slack.standin.duplicates() == []
    with freeze_time("2026-11-30 14:00:01"):  # next week: the next digest
        slack.sweep()
        slack.deliver()
    assert len(slack.standin.messages("C0DIGEST01")) == 2


def test_two_replicas_at_the_same_moment_queue_one_post(services, standin):
    workers = [Worker(services, make_client("xoxb-test", standin.base_url)) for _ in range(2)]
    barrier = threading.Barrier(2)

    def run(worker):
        barrier.wait()
        worker.sweep_once()

    with freeze_time("2026-11-23 14:05:00"):
        threads = [threading.Thread(target=run, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert [r.key for r in digest_rows(services)] == ["digest:2026-11-16"]


def test_no_channel_no_post(sqlite_url):
    services = make_services(sqlite_url, None, roster_config(digest_channel=None))
    with freeze_time("2026-11-23 15:00:00"):
        assert enqueue_weekly_digest(services) is False
    assert digest_rows(services) == []
    services.engine.dispose()


def test_a_failing_digest_is_logged_and_retried_next_sweep(services, monkeypatch, caplog):
    import service.digest as module

    def broken(*_args, **_kw):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "compute_digest", broken)
    with freeze_time("2026-11-23 15:00:00"):
        assert enqueue_weekly_digest(services) is False
        assert "weekly digest could not be queued" in caplog.text
        monkeypatch.undo()
        assert enqueue_weekly_digest(services) is True
    with services.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
