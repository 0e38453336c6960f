"""Careless input gets an answer next to the field, and a failing button says so."""

from __future__ import annotations

import handlers.card_actions
from blocks import card
from tests.conftest import AE, CSM
from tests.support import VALID_SIGNAL


def test_a_nan_or_infinite_arr_is_a_field_error(slack):
    for typed in ("NaN", "Infinity", "-inf", "sNaN"):
        view = slack.open_signal_modal(CSM)
        answer = slack.submit(view, CSM, {**VALID_SIGNAL, "est_arr": typed}).json()
        assert answer == {"response_action": "errors",
                          "errors": {"est_arr": "Enter a number, e.g. 25000."}}, typed


def test_an_account_name_of_only_invisible_characters_is_refused(slack):
    view = slack.open_signal_modal(CSM)
    answer = slack.submit(view, CSM, {**VALID_SIGNAL, "account": "\u200b\u200d\u2060"}).json()
    assert answer["errors"] == {"account": "Please fill this in."}


def test_the_reassign_reason_is_limited_on_the_server(slack):
    assert slack.log_signal().status_code == 200
    view = slack.press_for_modal(card.REASSIGN, 1, AE)
    answer = slack.submit(view, AE, {"new_ae": "U0AE00002", "reason": "r" * 501}).json()
    assert answer["response_action"] == "errors"
    assert "under 500 characters" in answer["errors"]["reason"]


def test_a_button_that_fails_inside_tells_the_presser_with_a_reference(slack, monkeypatch):
    assert slack.log_signal().status_code == 200

    def broken(*_):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(handlers.card_actions, "signal_for_update", broken)
    assert slack.press(card.ACKNOWLEDGE, 1, AE).status_code == 200
    slack.deliver()
    [told] = [e["text"] for e in slack.standin.ephemerals if e.get("user") == AE]
    assert "Something went wrong on our side" in told and "reference" in told
    assert "database on fire" not in told
