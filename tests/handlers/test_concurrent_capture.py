"""Submissions racing on a new account or a new CSM are all stored (none acked and lost)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from standin import requests as slack_requests
from standin.forms import state_values
from storage.models import Account, Signal
from tests.people import CSM
from tests.support import VALID_SIGNAL

pytestmark = pytest.mark.postgres
RACERS, ROUNDS = 6, 4


def test_racing_submissions_on_new_accounts_are_all_stored(pg_slack):
    view = pg_slack.open_signal_modal(CSM)
    answers: list[int] = []
    for round_no in range(ROUNDS):
        barrier = threading.Barrier(RACERS)

        def submit(n: int, round_no=round_no, barrier=barrier) -> None:
            values = {**VALID_SIGNAL, "account": f"Brand New {round_no}"}
            built = slack_requests.view_submission(
                pg_slack.secret, user_id=f"U0NEWCSM{round_no}{n}", view=view,
                view_id=f"V{round_no}x{n}", state_values=state_values(view, values))
            barrier.wait()
            answers.append(pg_slack.post(built).status_code)

        threads = [threading.Thread(target=submit, args=(n,)) for n in range(RACERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert answers == [200] * (RACERS * ROUNDS)
    with pg_slack.services.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Signal)) == RACERS * ROUNDS
        assert session.scalar(select(func.count()).select_from(Account)) == ROUNDS
