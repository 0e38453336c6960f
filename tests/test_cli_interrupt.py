"""Ctrl-C in each long command: it stops, says what was done, exits 130, and keeps exactly
what it says it keeps (ingest is interrupted by a real SIGINT in test_progress)."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select

from bot.cli import main
from bot.progress import Interrupted, Tracker
from storage.models import Account, OutboxMessage
from tests.conftest import make_services
from tests.crm_support import (  # noqa: F401 - fixtures
    _fresh_clients,
    bot,
    hubspot_crm,
    hubspot_fixture,
)
from tests.flow import log
from tests.people import roster_config
from tests.test_digest import build_history
from tests.test_export import cli  # noqa: F401 - a fixture
from tests.test_outbox_cli import outbox, six_held_in_batches_of_two


def ctrl_c_on(monkeypatch, target, name: str, call: int) -> None:
    """Ctrl-C arrives during the `call`-th call of `target.name` (inside its transaction)."""
    original, calls = getattr(target, name), [0]

    def interrupted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, interrupted)


def test_outbox_retry_held_keeps_the_batches_before_ctrl_c(services, standin, capsys,
                                                          monkeypatch):
    from storage import outbox_admin

    with freeze_time("2026-11-23 14:00:00"):
        six_held_in_batches_of_two(services, standin, monkeypatch)
        ctrl_c_on(monkeypatch, outbox_admin, "retry", call=2)
        with pytest.raises(Interrupted) as stopped:
            outbox(services, "retry", "--held", "--by", "robin")
    assert stopped.value.code == 130
    err = capsys.readouterr().err
    assert "Stopped (Ctrl-C): outbox retry: 2/6 rows in" in err
    assert "the rows re-queued so far stay re-queued" in err and "Traceback" not in err
    with services.unit_of_work() as session:
        held = session.scalar(select(func.count()).where(OutboxMessage.status == "held"))
    assert held == 4  # the second batch's transaction never committed


def test_crm_backfill_keeps_the_batches_queued_before_ctrl_c(sqlite_url, standin, hubspot,
                                                            monkeypatch, capsys):
    from bot import crm_cli

    old = bot(sqlite_url, standin, monkeypatch)  # signals from before the CRM was configured
    with freeze_time("2026-11-16 14:00:00"):
        for account in ("Globex", "Initech", "Hooli"):
            log(old, account=account)
    old.engine.dispose()
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    monkeypatch.setattr(crm_cli, "BACKFILL_BATCH", 1)
    ctrl_c_on(monkeypatch, crm_cli, "enqueue", call=2)
    with freeze_time("2026-11-23 14:00:00"), pytest.raises(Interrupted):
        crm_cli.backfill(services, since=date(2026, 11, 1))
    err = capsys.readouterr().err
    assert "Stopped (Ctrl-C): crm backfill: 1/3 signals in" in err
    assert "run it again for the rest" in err
    with services.unit_of_work() as session:
        queued = session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.kind == "crm.upsert", OutboxMessage.key.like("%backfill"))).all()
    assert len(queued) == 1
    monkeypatch.undo()
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time("2026-11-23 14:05:00"):
        assert crm_cli.backfill(services, since=date(2026, 11, 1)) == 0  # the rest, no twins
    with services.unit_of_work() as session:
        assert session.scalar(select(func.count()).where(
            OutboxMessage.kind == "crm.upsert", OutboxMessage.key.like("%backfill"))) == 3


def test_export_keeps_the_rows_written_before_ctrl_c(cli, tmp_path, capsys,  # noqa: F811
                                                    monkeypatch):
    build_history(cli)
    target = tmp_path / "signals.csv"
    ctrl_c_on(monkeypatch, Tracker, "advance", call=4)
    with pytest.raises(Interrupted):
        main(["export", "--since", "2026-11-09", "--until", "2026-11-22", "--format", "csv",
              "--output", str(target)])
    err = capsys.readouterr().err
    assert "Stopped (Ctrl-C): export: 3/8 signals in" in err and "rows written so far" in err
    with target.open(newline="") as stream:
        assert len(list(csv.DictReader(stream))) >= 3


def test_accounts_import_saves_nothing_on_ctrl_c(cli, tmp_path, capsys,  # noqa: F811
                                                monkeypatch):
    url = f"sqlite:///{tmp_path / 'migrated.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    path = tmp_path / "accounts.csv"
    path.write_text("crm_id,name,csm\n" + "".join(f"C{i:03},Account {i},U0CSM0001\n"
                                                  for i in range(30)))
    ctrl_c_on(monkeypatch, Tracker, "advance", call=11)
    with pytest.raises(Interrupted):
        main(["accounts", "import", str(path)])
    err = capsys.readouterr().err
    assert "Stopped (Ctrl-C): accounts import: 10/30 rows in" in err
    assert "nothing was saved (the import is one transaction)" in err
    services = make_services(url, None, roster_config())
    with services.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == 0
    services.engine.dispose()
