"""The ack path's cost as a count, not a timing (issue 16): statements per valid submission
and per `/signal`, on SQLite and PostgreSQL, through signed requests into Bolt.

A count survives a busy machine; a regression that adds a read-back, an autoflush or a
per-row insert to the unit of work shows up here long before it shows in a benchmark.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from storage.models import Signal
from tests.people import AE, CSM
from tests.support import VALID_SIGNAL, wait_for

# A valid, qualified submission on an account already known, by a CSM already known, to an
# AE whose time zone is known: read the account; insert the signal (its id is needed); its
# answers, its events, its clocks and its outbox rows, one statement each, and move it to
# handed off (one update). On PostgreSQL the account is read in the signal's INSERT
# (storage.bulk's `insert_one_under`) and the last five are one statement (`one_statement`).
MAX_SUBMISSION = {"sqlite": 7, "postgresql": 2}
MAX_MODAL_NO_TEXT = 0  # `/signal` alone, once the process knows the registry has accounts
MAX_MODAL_ACCOUNT = 1  # `/signal <account>`: the account and the AE to suggest, together


@contextmanager
def counting(engine) -> Iterator[list[str]]:
    """Every statement the engine sends while the block runs."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement.split("\n", 1)[0][:120])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _submit(slack, view: dict, view_id: str, account: str = "Globex Corp"):
    from standin import requests as slack_requests
    from tests.support import state_values

    values = {**VALID_SIGNAL, "account": account}
    response = slack.post(slack_requests.view_submission(
        slack.secret, user_id=CSM, view=view, view_id=view_id,
        state_values=state_values(view, values)))
    assert response.status_code == 200 and "errors" not in response.text, response.text
    return response


def _warm(slack) -> dict:
    """Two submissions, a delivery and a `/signal`: the account, the CSM, the AE's zone and
    that the registry has accounts are known to the process."""
    view = slack.open_signal_modal(CSM)
    _submit(slack, view, "VWARM0001")
    slack.deliver()  # the AE's profile (and time zone) is read from Slack here
    _submit(slack, view, "VWARM0002")
    slack.open_signal_modal(CSM)  # the registry has an account now: remembered
    return view


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def driver(request):
    return request.getfixturevalue("slack" if request.param == "sqlite" else "pg_slack")


def test_a_valid_submission_runs_few_statements(driver):
    view = _warm(driver)
    engine = driver.services.engine
    with counting(engine) as statements:
        _submit(driver, view, "VCOUNT0001")
    limit = MAX_SUBMISSION[engine.dialect.name]
    assert len(statements) <= limit, "\n".join(statements)
    assert not any(s.startswith("SELECT people") for s in statements)  # cached per process
    assert not any("submission_key" in s and s.startswith("SELECT") for s in statements)
    with driver.services.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Signal)) == 3


def test_the_same_view_submitted_twice_is_stored_once_and_both_acked(driver):
    view = _warm(driver)
    _submit(driver, view, "VTWICE0001")
    _submit(driver, view, "VTWICE0001")  # the unique key refuses it; the handler acks
    with driver.services.unit_of_work() as session:
        keys = session.scalars(select(Signal.submission_key)).all()
    assert keys.count("view:VTWICE0001") == 1 and len(keys) == 3


def test_signal_without_text_opens_the_modal_without_the_database(driver):
    _warm(driver)
    engine = driver.services.engine
    with counting(engine) as statements:
        view = driver.open_signal_modal(CSM)
    assert view["callback_id"] == "signal_modal"
    assert len(statements) <= MAX_MODAL_NO_TEXT, statements


def test_signal_with_an_account_reads_it_and_its_ae_with_one_statement(driver):
    _warm(driver)
    engine = driver.services.engine
    with counting(engine) as statements:
        view = driver.open_signal_modal(CSM, "globex corp hot")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["account"]["element"]["initial_option"]["text"]["text"] == "Globex Corp"
    assert blocks["ae"]["element"]["initial_user"] == AE  # its latest signal's AE
    assert len(statements) <= MAX_MODAL_ACCOUNT, statements


def test_a_tz_seen_once_is_not_read_again_within_the_ttl(slack):
    from storage.cache import MISSING

    _warm(slack)
    caches = slack.services.caches
    assert caches.tz.get(AE) not in (MISSING, None)
    assert caches.people.get(CSM) is True
    wait_for(lambda: caches.registry.get("any") is True)
