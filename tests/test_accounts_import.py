"""`signalbot accounts import FILE.csv`: idempotent upsert by CRM id (else name), bad rows
reported by line, good rows kept, `--dry-run` shows what would change."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from service.accounts import import_csv
from storage.models import Account, TriggerQueue
from tests.test_cli import base_env, signalbot

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
HEADER = (
    "crm_id,name,csm,ae,plan,seats,limits,billing_cycle_months,contract_start,"
    "renewal_date,health,feature_adoption,open_support,support_resolved_on\n"
)
GLOBEX = (
    "0015g00000Globex,Globex Corp,U0CSM0001,U0AE00001,Growth,50,"
    "api_calls=100000; storage_gb=500,1,2025-06-01,2027-02-01,82,78%,P3,\n"
)
INITECH = ",Initech,U0CSM0001,,Starter,10,,3,2026-01-15,2027-01-15,64,0.4,none,2026-11-01\n"


def run(services, text: str):
    with services.unit_of_work() as session:
        return import_csv(session, io.StringIO(text), NOW)


def accounts(services) -> dict[str, Account]:
    with services.unit_of_work() as session:
        return {a.name: a for a in session.scalars(select(Account))}


def test_import_creates_accounts_with_every_field(services):
    report = run(services, HEADER + GLOBEX + INITECH)
    assert (report.created, report.updated, report.unchanged, report.errors) == (2, 0, 0, [])
    globex, initech = accounts(services)["Globex Corp"], accounts(services)["Initech"]
    assert (globex.crm_id, globex.csm_id, globex.ae_id, globex.plan, globex.seats) == (
        "0015g00000Globex",
        "U0CSM0001",
        "U0AE00001",
        "Growth",
        50,
    )
    assert globex.limits == {"api_calls": 100000.0, "storage_gb": 500.0}
    assert (globex.contract_start, globex.renewal_date) == (date(2025, 6, 1), date(2027, 2, 1))
    assert (globex.health, globex.feature_adoption, globex.open_support) == (82, 0.78, "P3")
    assert (initech.crm_id, initech.cycle_months, initech.open_support) == (None, 3, "none")
    assert initech.support_resolved_on == date(2026, 11, 1)
    with services.unit_of_work() as session:  # new registry data: evaluate their triggers
        assert session.scalar(select(func.count()).select_from(TriggerQueue)) == 2


def test_import_is_idempotent(services):
    run(services, HEADER + GLOBEX + INITECH)
    again = run(services, HEADER + GLOBEX + INITECH)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert len(accounts(services)) == 2


def test_upsert_keys_by_crm_id_else_by_name(services):
    run(services, HEADER + GLOBEX + INITECH)
    report = run(
        services, "crm_id,name,health\n0015g00000Globex,Globex Corporation,90\n,initech,70\n"
    )
    assert (report.created, report.updated) == (0, 2)
    found = accounts(services)
    assert set(found) == {"Globex Corporation", "Initech"}
    assert (found["Globex Corporation"].health, found["Initech"].health) == (90, 70)
    assert report.changes[0] == (
        2,
        "update Globex Corporation: name Globex Corp → Globex Corporation; health 82 → 90",
    )


def test_a_bad_row_is_reported_by_line_and_the_good_rows_kept(services):
    text = (
        HEADER
        + GLOBEX
        + "crm-2,Hooli,U0CSM0001,,,lots,,,,,,,,\n"
        + "crm-3,Umbrella,,,,,,,,2027-02-30,,,,\n"
        + "crm-4,Globex Corp,,,,,,,,,,,,\n"
        + ",,,,,,,,,,50,,,\n"
        + "crm-5,Vandelay,casey,,,,,,,,,,,\n"
        + "crm-6,Soylent,,,,,,,,,101,,,\n"
        + INITECH
    )
    report = run(services, text)
    assert report.errors == [
        (3, "seats: 'lots' is not a number"),
        (4, "renewal_date: '2027-02-30' is not a date (YYYY-MM-DD)"),
        (5, "the name 'Globex Corp' belongs to CRM id 0015g00000Globex"),
        (6, "needs a crm_id or a name"),
        (7, "csm: 'casey' is not a Slack user id like U0123ABCD"),
        (8, "health: 101 is above 100"),
    ]
    assert set(accounts(services)) == {"Globex Corp", "Initech"}


def test_the_segment_column_is_stored_for_sla_policies(services):
    run(services, "name,plan,segment\nAcme,Growth,Mid-Market\n")
    acme = accounts(services)["Acme"]
    assert (acme.plan, acme.segment) == ("Growth", "Mid-Market")


def test_limit_columns_per_metric(services):
    run(services, "name,limit:api_calls,limit:seats_api\nAcme,1000,50\n")
    assert accounts(services)["Acme"].limits == {"api_calls": 1000.0, "seats_api": 50.0}


def test_the_cli_imports_and_dry_runs(tmp_path):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    path = tmp_path / "accounts.csv"
    path.write_text(HEADER + GLOBEX + "crm-2,Hooli,,,,lots,,,,,,,,\n")
    dry = signalbot("accounts", "import", str(path), "--dry-run", env=env, cwd=tmp_path)
    assert "line 2: would create Globex Corp: name ∅ → Globex Corp;" in dry.stdout
    assert "health ∅ → 82" in dry.stdout
    assert "1 would be created, 0 would be updated, 0 unchanged, 1 rejected (dry run" in dry.stdout
    assert "line 3: rejected: seats: 'lots' is not a number" in dry.stderr
    real = signalbot("accounts", "import", str(path), env=env, cwd=tmp_path)
    assert real.returncode == 1  # a row was rejected; the good one is saved
    assert "1 created, 0 updated, 0 unchanged, 1 rejected" in real.stdout
    again = signalbot("accounts", "import", str(path), "--dry-run", env=env, cwd=tmp_path)
    assert "0 would be created, 0 would be updated, 1 unchanged" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("crm_id,nmae\nx,y\n")
    wrong = signalbot("accounts", "import", str(bad), env=env, cwd=tmp_path)
    assert wrong.returncode == 2 and "unknown columns ['nmae']" in wrong.stderr
    assert "Traceback" not in wrong.stderr + real.stderr + dry.stderr


def test_the_cli_refuses_impossible_rows_one_by_one(tmp_path):
    env = base_env(tmp_path, SLACK_BOT_TOKEN="xoxb-test")
    assert signalbot("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    path = tmp_path / "accounts.csv"
    path.write_text(
        HEADER
        + GLOBEX
        + "crm-2,Hooli,,,,1e30,,,,,,,,\n"
        + f"crm-3,{'N' * 201},,,,,,,,,,,,\n"
        + f"{'C' * 101},Umbrella,,,,,,,,,,,,\n"
        + "crm-5,\u200b\u200b,,,,,,,,,,,,\n"
        + "crm-6,Soylent,,,,,,99,,,,,,\n"
        + "crm-7,Vandelay,,,,,,,,9999-12-31,,,,\n"
        + INITECH
    )
    result = signalbot("accounts", "import", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "2 created, 0 updated, 0 unchanged, 6 rejected" in result.stdout
    for expected in [
        "line 3: rejected: seats: 1e+30 is beyond",
        "line 4: rejected: name: at most 200 characters",
        "line 5: rejected: crm_id: at most 100 characters",
        "line 6: rejected: name: needs at least one letter or digit",
        "line 7: rejected: billing_cycle_months: 99 is above",
        "line 8: rejected: renewal_date: 9999-12-31 is not between 1900 and 2200",
    ]:
        assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
