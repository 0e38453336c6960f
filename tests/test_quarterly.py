"""The quarterly RevOps review: CSM credit and AE SLA figures, CSV, the Slack post, once."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.quarterly_cli import quarter_command
from protocol.credit import CreditPolicy, Quarter
from service import capture
from service import signals as ops
from service.digest import week_bounds, week_figures
from service.quarterly import (
    CSV_COLUMNS,
    compute_review,
    enqueue_quarterly_review,
    quarter_bounds,
)
from storage.models import OutboxMessage
from tests.conftest import make_services
from tests.flow import act, draft, log, worker
from tests.people import AE, AE2, CSM, roster_config
from tests.support import validate_message_blocks

CSM2 = "U0CSM0002"
REVOPS = "C0REVOPS01"
README = Path(__file__).resolve().parent.parent / "README.md"


def services_for(url, standin, **credit):
    policy = CreditPolicy(channel=REVOPS, **credit)
    return make_services(url, standin, roster_config(credit=policy))


def quarter_of_activity(services, standin) -> list[int]:
    """Three weeks of Q4 2026: on-time, late and escalated clocks, a cover, won and lost."""
    w = worker(services, standin)
    with freeze_time("2026-11-02 14:00:00") as clock:  # a Monday
        s1 = log(services, account="Initech", est_arr=40000)
        clock.tick(timedelta(minutes=30))
        act(services, ops.acknowledge, s1, AE)
        clock.tick(timedelta(hours=1))
        act(services, ops.log_contact, s1, AE)
        clock.tick(timedelta(days=1))
        s2 = log(services, account="Globex")  # the AE lets this one slide
        clock.tick(timedelta(days=2))
        w.sweep_once()  # escalated
        act(services, ops.acknowledge, s2, AE)
        act(services, ops.record_outcome, s1, "won", AE, won_arr=Decimal(50000))
        clock.tick(timedelta(days=4))  # week 2
        with services.unit_of_work() as session:
            s3 = capture.log_signal(session, services.config, draft(account="Umbrella"),
                                    CSM2, services.now()).signal.id
        s4 = log(services, account="Hooli", answers={"budget": False, "buyer": False,
                                                     "timeline": True, "fit": True})
        act(services, ops.reassign, s3, AE2, "cover while Alex is out", AE)
        clock.tick(timedelta(hours=1))
        act(services, ops.acknowledge, s3, AE2)
        act(services, ops.log_contact, s3, AE2)
        clock.tick(timedelta(days=2))
        act(services, ops.record_outcome, s3, "lost", AE2, reason="No budget")
        clock.tick(timedelta(days=5))  # week 3
        w.sweep_once()
        act(services, ops.log_contact, s2, AE)
        act(services, ops.record_outcome, s2, "won", AE, won_arr=Decimal(20000))
    return [s1, s2, s3, s4]


def test_quarter_figures_match_the_weekly_digests(sqlite_url, standin):
    services = services_for(sqlite_url, standin)
    quarter_of_activity(services, standin)
    now = services.now()
    with freeze_time("2026-12-01 12:00:00"), services.unit_of_work() as session:
        now = services.now()
        start, _ = week_bounds(now, services.config, date(2026, 11, 2))
        weeks = [week_bounds(now, services.config, date(2026, 11, 2) + timedelta(days=7 * n))
                 for n in range(4)]
        end = weeks[-1][1]
        review = compute_review(session, services.config, Quarter(2026, 4), start, end, now)
        figures = [week_figures(session, a, b, now) for a, b in weeks]
    assert sum(f.signals.total for f in figures) == sum(c.logged for c in review.csms) == 4
    assert sum(f.signals.qualified for f in figures) == sum(c.qualified for c in review.csms)
    assert sum(f.outcomes.won for f in figures) == sum(c.won for c in review.csms) == 2
    assert sum((f.outcomes.won_arr for f in figures), Decimal(0)) == \
        sum((c.won_arr for c in review.csms), Decimal(0)) == Decimal(70000)
    assert sum(f.outcomes.lost for f in figures) == sum(a.lost for a in review.aes) == 1
    by_ae = {a.ae_id: a for a in review.aes}
    for ae in (AE, AE2):
        rows = [r for f in figures for r in f.per_ae if r.ae_id == ae]
        assert (by_ae[ae].ack_met, by_ae[ae].ack_counted) == (
            sum(r.ack.met for r in rows), sum(r.ack.counted for r in rows))
        assert (by_ae[ae].contact_met, by_ae[ae].contact_counted) == (
            sum(r.contact.met for r in rows), sum(r.contact.counted for r in rows))
        assert by_ae[ae].escalations == sum(e.escalations for f in figures
                                            for e in f.escalations.per_ae if e.ae_id == ae)
    assert by_ae[AE].escalations >= 1


def test_credit_stays_with_the_csm_who_logged_it_and_slow_aes_are_flagged(sqlite_url, standin):
    services = services_for(sqlite_url, standin)
    quarter_of_activity(services, standin)
    with freeze_time("2027-01-05 12:00:00"), services.unit_of_work() as session:
        start, end = quarter_bounds(Quarter(2026, 4), services.config)
        review = compute_review(session, services.config, Quarter(2026, 4), start, end,
                                services.now())
    csms = {c.csm_id: c for c in review.csms}
    assert (csms[CSM].logged, csms[CSM].qualified, csms[CSM].won) == (3, 2, 2)
    assert csms[CSM].credit == Decimal("17500.00")  # 25% of 70,000
    assert csms[CSM].quality == 1.0
    assert (csms[CSM2].won, csms[CSM2].credit, csms[CSM2].quality) == (0, Decimal("0.00"), 0.0)
    aes = {a.ae_id: a for a in review.aes}
    assert aes[AE].flagged and not aes[AE2].flagged
    assert [m.signal_id for m in aes[AE].misses][:1] and all(
        m.account in ("Globex", "Umbrella") for m in aes[AE].misses)
    assert aes[AE2].handoffs == 1 and aes[AE2].median_contact_s == 3600.0


def test_a_fixed_spiff_instead_of_the_rate(sqlite_url, standin):
    services = services_for(sqlite_url, standin, spiff=Decimal(1000))
    quarter_of_activity(services, standin)
    with freeze_time("2027-01-05 12:00:00"), services.unit_of_work() as session:
        start, end = quarter_bounds(Quarter(2026, 4), services.config)
        review = compute_review(session, services.config, Quarter(2026, 4), start, end,
                                services.now())
    assert {c.csm_id: c.credit for c in review.csms}[CSM] == Decimal("2000.00")


def run(services, capsys, *argv: str) -> str:
    import argparse

    parser = argparse.ArgumentParser()
    from bot.quarterly_cli import register

    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "quarter", *argv])
    assert quarter_command(args, services) == 0
    return capsys.readouterr().out


def test_report_quarter_as_text_csv_and_slack(sqlite_url, standin, capsys):
    services = services_for(sqlite_url, standin)
    quarter_of_activity(services, standin)
    with freeze_time("2027-01-05 12:00:00"):
        text = run(services, capsys)  # the last quarter that ended: 2026Q4
        table = run(services, capsys, "--quarter", "2026Q4", "--format", "csv")
        payload = json.loads(run(services, capsys, "--quarter", "2026Q4", "--format", "slack"))
    assert "Quarterly RevOps review — 2026Q4" in text and "Flagged for review" in text
    assert "reassignments and covers split nothing" in text
    rows = list(csv.DictReader(io.StringIO(table)))
    assert tuple(rows[0]) == CSV_COLUMNS
    csm_row = next(r for r in rows if r["role"] == "csm" and r["slack_id"] == CSM)
    assert (csm_row["won_arr"], csm_row["signal_credit"]) == ("70000.00", "17500.00")
    ae_row = next(r for r in rows if r["role"] == "ae" and r["slack_id"] == AE)
    assert ae_row["flagged"] == "yes" and "ack due" in ae_row["misses"]
    readme = README.read_text()
    for column in CSV_COLUMNS:  # every column is documented
        assert f"`{column}`" in readme, column
    validate_message_blocks(payload["blocks"])
    assert len(payload["blocks"]) <= 50 and "2026Q4" in payload["text"]


def test_report_quarter_json_and_tables_in_a_terminal(sqlite_url, standin, capsys, monkeypatch):
    services = services_for(sqlite_url, standin)
    quarter_of_activity(services, standin)
    with freeze_time("2027-01-05 12:00:00"):
        data = json.loads(run(services, capsys, "--json"))
        table = run(services, capsys, "--format", "csv")
        monkeypatch.setattr("bot.quarterly_cli.is_terminal", lambda out: True)
        shown = run(services, capsys)
    assert data["quarter"] == "2026Q4"
    assert data["rows"] == list(csv.DictReader(io.StringIO(table)))  # the CSV's rows, as objects
    assert "Quarterly RevOps review — 2026Q4" in shown
    assert "CSMs: signal credit and quality" in shown and "AEs: SLA attainment" in shown


def test_the_review_is_posted_once_after_the_quarter_ends(sqlite_url, standin):
    services = services_for(sqlite_url, standin)
    replica = services_for(sqlite_url, standin)
    quarter_of_activity(services, standin)
    with freeze_time("2027-01-01 13:59:00"):  # 08:59 in New York: not yet
        assert not enqueue_quarterly_review(services)
    with freeze_time("2027-01-01 14:01:00"):
        assert enqueue_quarterly_review(services)
        assert not enqueue_quarterly_review(replica)
        worker(services, standin).deliverer.drain()
    with freeze_time("2027-01-02 14:01:00"):
        assert not enqueue_quarterly_review(replica)
    with services.unit_of_work() as session:
        keys = session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.key.startswith("quarterly:"))).all()
    assert keys == ["quarterly:2026Q4"]
    [post] = standin.messages(REVOPS)
    validate_message_blocks(post["blocks"])
    assert "Quarterly RevOps review — 2026Q4" in str(post["blocks"])


@pytest.mark.parametrize("quarter", ["2026Q4", "2026-q1"])
def test_quarters_parse(quarter):
    from protocol.credit import parse_quarter

    assert parse_quarter(quarter).label in ("2026Q4", "2026Q1")
