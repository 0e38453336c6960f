"""The CSV export, and the `signalbot export` / `signalbot digest` commands."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from bot.cli import main
from service.export import COLUMNS, export_rows, write_csv
from storage.models import OutboxMessage
from tests.conftest import make_services
from tests.people import AE, AE2, CSM, roster_config
from tests.test_digest import ODD_NAME, build_history

CONFIG_YAML = f"""
timezone: America/New_York
digest: {{channel: C0DIGEST01}}
roster:
  managers: {{{AE}: U0MGR0001, {AE2}: U0MGR0001}}
  admins: [U0REVOPS1]
"""


def export(services, since: date, until: date | None = None) -> list[dict[str, str]]:
    out = io.StringIO()
    with services.unit_of_work() as session:
        count = write_csv(session, services.config, out, since, until)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == list(COLUMNS) and len(rows) == count + 1
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def test_every_signal_of_the_range_with_its_timestamps_and_clocks(services):
    ids = build_history(services)
    rows = export(services, date(2026, 11, 16))
    assert [int(r["signal_id"]) for r in rows] == [ids[k] for k in
                                                   ("S1", "S2", "S3", "S4", "S5", "S6")]
    s1, s2, s3, s4, s5, s6 = rows
    assert {k: s1[k] for k in ("account", "csm_id", "ae_id", "urgency", "category", "kind",
                               "stage", "outcome", "est_arr", "won_arr")} == {
        "account": "Globex", "csm_id": CSM, "ae_id": AE, "urgency": "hot",
        "category": "product", "kind": "seat_utilisation", "stage": "won", "outcome": "won",
        "est_arr": "10000.00", "won_arr": "25000.00"}
    assert [s1[k] for k in ("created_at", "handed_off_at", "acknowledged_at", "contacted_at",
                            "closed_at")] == [
        "2026-11-16T14:00:00+00:00", "2026-11-16T14:00:00+00:00", "2026-11-16T15:00:00+00:00",
        "2026-11-17T10:00:00+00:00", "2026-11-18T14:00:00+00:00"]
    assert [s1[k] for k in ("ack_due_at", "ack_met_at", "ack_state", "contact_due_at",
                            "contact_met_at", "contact_state", "escalations")] == [
        "2026-11-16T18:00:00+00:00", "2026-11-16T15:00:00+00:00", "met",
        "2026-11-17T14:00:00+00:00", "2026-11-17T10:00:00+00:00", "met", "0"]
    assert (s2["ack_met_at"], s2["escalations"], s2["outcome"]) == (
        "2026-11-16T21:00:00+00:00", "1", "lost")
    assert (s3["contact_state"], s3["contact_met_at"], s3["escalations"]) == ("missed", "", "2")
    # reassigned: the new AE's clocks; the old AE's escalation still counts
    assert (s4["ae_id"], s4["ack_due_at"], s4["escalations"]) == (
        AE2, "2026-11-18T23:00:00+00:00", "1")
    assert (s5["stage"], s5["handed_off_at"], s5["ack_due_at"]) == ("qualifying", "", "")
    assert s6["account"] == ODD_NAME and s6["stage"] == "handed_off"


def test_until_is_inclusive_in_the_configured_timezone(services):
    ids = build_history(services)
    rows = export(services, date(2026, 11, 9), date(2026, 11, 15))
    assert [int(r["signal_id"]) for r in rows] == [ids["P1"], ids["P2"]]
    # 16 Nov 00:00 New York is 05:00 UTC: S1 (14:00 UTC) is on the 16th
    assert [int(r["signal_id"]) for r in export(services, date(2026, 11, 16),
                                                date(2026, 11, 16))] == [ids["S1"], ids["S2"]]


def test_rows_stream_lazily(services):
    build_history(services)
    with services.unit_of_work() as session:
        rows = export_rows(session, datetime(2026, 1, 1, tzinfo=UTC))
        assert iter(rows) is rows  # a generator: nothing is read before it is asked for
        first = next(rows)
    assert first[1] == "Initech"


def test_spreadsheet_formulas_in_account_names_are_defused(services):
    from tests.test_digest import History

    with freeze_time("2026-11-17 15:00:00") as clock:
        History(services, clock).log("2026-11-17 15:00", "=HYPERLINK(\"http://x\")")
        clock.move_to("2026-11-17 15:01")
        History(services, clock).log("2026-11-17 15:01", "-Minus Corp")
    rows = export(services, date(2026, 11, 17))
    assert [r["account"] for r in rows] == ["'=HYPERLINK(\"http://x\")", "'-Minus Corp"]


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """The environment `signalbot` reads, a database with the schema, and its services."""
    config = tmp_path / "signalbot.yml"
    config.write_text(CONFIG_YAML)
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    for name in list(os.environ):
        if name.startswith(("SLACK_", "SIGNALBOT_", "DATABASE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SIGNALBOT_CONFIG", str(config))
    services = make_services(url, None, roster_config())
    yield services
    services.engine.dispose()


def test_export_command_writes_a_file(cli, tmp_path, capsys):
    ids = build_history(cli)
    target = tmp_path / "signals.csv"
    assert main(["export", "--since", "2026-11-09", "--until", "2026-11-22", "--format", "csv",
                 "--output", str(target)]) == 0
    err = capsys.readouterr().err
    assert "8 signals exported" in err and "export: 8/8 signals in" in err  # progress, plain
    with target.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [int(r["signal_id"]) for r in rows] == [ids[k] for k in
                                                   ("P1", "P2", "S1", "S2", "S3", "S4", "S5", "S6")]


def test_export_command_to_stdout_and_its_errors(cli, capsys):
    build_history(cli)
    assert main(["export", "--since", "2026-11-22"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("signal_id,account,") and ODD_NAME in out
    assert main(["export", "--since", "2026-11-22", "--until", "2026-11-01"]) == 2
    with pytest.raises(SystemExit):
        main(["export", "--since", "22/11/2026"])
    assert "not a date" in capsys.readouterr().err


def test_digest_command_dry_run_prints_text_and_posts_nothing(cli, capsys):
    build_history(cli)
    with freeze_time("2026-12-01 12:00:00"):
        assert main(["digest", "--dry-run", "--week", "2026-11-18"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Weekly expansion digest: 16–22 Nov 2026\n")
    assert "Signals logged: 6 (▲4 vs last week)" in out and ODD_NAME in out
    # the charts as a sparkline and bars, the AE table in columns
    assert "SLA attainment, last 8 weeks (%)\n  Acknowledged  ███▄  100% → 50%\n" in out
    assert "  Logged        ████████████████████████ 6" in out
    assert "  AE  " in out and "Hand-offs  Ack within SLA" in out
    with cli.unit_of_work() as session:
        keys = session.scalars(select(OutboxMessage.key)).all()
    assert keys and not [k for k in keys if k.startswith("digest")]


def test_digest_command_queues_the_post_once_unless_asked_again(cli, capsys):
    with freeze_time("2026-11-24 12:00:00"):
        assert main(["digest"]) == 0
        assert main(["digest"]) == 0
        assert "already posted" in capsys.readouterr().out
        assert main(["digest", "--again"]) == 0
    with cli.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [r.key for r in rows] == ["digest:2026-11-16",
                                     f"digest:2026-11-16:again:{1795521600}"]
    assert {r.target for r in rows} == {"C0DIGEST01"}
    assert rows[0].payload["text"].startswith("Weekly expansion digest, 16–22 Nov 2026")


def test_digest_command_without_a_channel(cli, tmp_path, capsys):
    (tmp_path / "signalbot.yml").write_text("timezone: America/New_York\n")
    assert main(["digest"]) == 2
    assert "no digest channel" in capsys.readouterr().err
    assert main(["digest", "--dry-run"]) == 0


def test_python_dash_m_bot_cli_knows_the_commands(cli, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "digest", "--dry-run"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Weekly expansion digest:")
