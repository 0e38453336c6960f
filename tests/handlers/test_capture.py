"""Capture: /signal opens the modal, a valid submission hands off, invalid ones stay open."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from storage.models import OutboxMessage, Signal, SignalEvent
from tests.conftest import AE, CSM
from tests.support import VALID_SIGNAL


def signals(services):
    with services.unit_of_work() as session:
        return list(session.scalars(select(Signal)))


def test_signal_command_opens_the_modal_after_the_ack(slack):
    response = slack.command(CSM, "")
    assert response.status_code == 200
    view = slack.open_signal_modal(CSM)
    assert view["callback_id"] == "signal_modal"
    assert not slack.standin.rejections


def test_valid_submission_hands_off_to_the_ae(slack):
    response = slack.log_signal()
    assert response.status_code == 200
    assert (
        response.text in ("", "null")
        or json.loads(response.text).get("response_action") != "errors"
    )
    [signal] = signals(slack.services)
    assert signal.stage == "handed_off"
    assert signal.ae_id == AE
    tally = slack.deliver()
    assert tally.held == 0, tally
    ae_dm = slack.standin.dm_messages(AE)
    csm_dm = slack.standin.dm_messages(CSM)
    assert len(ae_dm) == 1 and len(csm_dm) == 1
    assert "Globex Corp" in ae_dm[0]["text"]
    assert not slack.standin.rejections


def test_invalid_submission_returns_errors_next_to_fields(slack):
    view = slack.open_signal_modal(CSM)
    past = (date.today() - timedelta(days=3)).isoformat()
    response = slack.submit(view, CSM, {**VALID_SIGNAL, "buyer_name": "  ", "timeline_date": past})
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"buyer_name", "timeline_date"}
    assert signals(slack.services) == []


def test_double_submit_creates_one_signal(slack):
    view = slack.open_signal_modal(CSM)
    from standin import requests as r
    from tests.support import state_values

    values = state_values(view, VALID_SIGNAL)
    for _ in range(2):
        slack.post(
            r.view_submission(
                slack.secret, user_id=CSM, view=view, view_id="V0SAME", state_values=values
            )
        )
    assert len(signals(slack.services)) == 1
    with slack.services.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(SignalEvent)) == 2
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
