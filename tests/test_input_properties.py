"""Random events and CSV rows thrown at ingest and the account import, on both databases:
no exception escapes, every item is either kept or refused with a reason."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.account_fields import COLUMNS
from service.accounts import import_csv
from service.ingest import TYPES, ingest

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
NASTY = [
    "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "2026-11-20", "2026-02-30",
    "1e300", "-1", "NaN", "inf", "12,500", "\x00", "a\x00b", "\u200b", "\ud800", "x" * 250,
    "U0CSM0001", "P1", "none", "api_calls=100000; storage_gb=500", "50%", "", " ",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.sampled_from(NASTY),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=8), scalars, max_size=3),
)
offsets = st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
dates = st.one_of(
    st.datetimes(timezones=st.one_of(st.none(), offsets.map(timezone))).map(datetime.isoformat),
    st.dates().map(date.isoformat),
)
numbers = st.one_of(st.floats(), st.integers(), st.floats().map(str), st.integers().map(str))
names = st.one_of(st.text(max_size=250), st.sampled_from(NASTY))
SHAPED = {
    **dict.fromkeys(["at", "period_end", "contract_start", "renewal_date",
                     "support_resolved_on"], dates),
    **dict.fromkeys(["value", "limit", "seats", "health", "feature_adoption",
                     "billing_cycle_months"], numbers),
    **dict.fromkeys(["id", "metric", "feature", "user", "name", "plan", "open_support"], names),
    "csm": st.sampled_from(["U0CSM0001", "casey", ""]),
    "ae": st.sampled_from(["U0AE00001", "U0", "\x00"]),
    "limits": st.dictionaries(names, numbers, max_size=3),
}
events = st.one_of(
    st.fixed_dictionaries(
        {
            "account": st.one_of(st.sampled_from(["Globex Corp", "0015g00000Globex"]), names),
            "type": st.one_of(st.sampled_from(TYPES), values),
        },
        optional={key: st.one_of(shaped, values) for key, shaped in SHAPED.items()},
    ),
    values,
)


def cell(column: str):
    """A CSV cell: shaped like the column half the time (a NUL refuses the whole file, csv.Error,
    so none is drawn)."""
    shaped = SHAPED.get(column, names)
    return st.one_of(shaped.map(str), scalars.map(str)).map(lambda s: s.replace("\x00", ""))


rows = st.lists(st.fixed_dictionaries({c: cell(c) for c in COLUMNS}), max_size=6)
LENIENT = settings(max_examples=100, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


def seeded(services) -> None:
    with services.unit_of_work() as session:
        import_csv(session, io.StringIO("crm_id,name,seats,limits\n"
                                        "0015g00000Globex,Globex Corp,50,api_calls=1000\n"), NOW)


@LENIENT
@given(batch=st.lists(events, max_size=8))
def test_every_event_is_stored_or_refused_with_a_reason(services, batch):
    seeded(services)
    session = services.factory()
    try:
        result = ingest(session, services.config.triggers, batch, NOW)
        session.flush()
    finally:
        session.rollback()
        session.close()
    assert result.accepted + result.duplicates + len(result.rejected) == len(batch)
    assert all(r["error"] and 0 <= r["index"] < len(batch) for r in result.rejected)


@LENIENT
@given(table=rows)
def test_every_csv_row_is_imported_or_refused_with_its_line(services, table):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(table)
    session = services.factory()
    try:
        report = import_csv(session, io.StringIO(out.getvalue()), NOW)
        session.flush()
    finally:
        session.rollback()
        session.close()
    assert report.created + report.updated + report.unchanged + len(report.errors) == len(table)
    assert all(reason for _, reason in report.errors)
