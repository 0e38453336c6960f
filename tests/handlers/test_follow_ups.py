"""The follow-up modals' submissions (outcome, reassign, requalify), called as Bolt calls them.

The signed-HTTP round trips of the same modals are in test_card_actions.py.
"""

from __future__ import annotations

import uuid

from blocks.modal import outcome_modal, reassign_modal, requalify_modal
from handlers.follow_ups import submit_outcome, submit_reassign, submit_requalify
from tests.handlers.direct import Acks, hand_off, only_signal, submission
from tests.people import AE, AE2, CSM


def opened(view: dict) -> dict:
    return {**view, "id": f"V{uuid.uuid4().hex[:10].upper()}"}


def test_submit_outcome_records_a_win_and_refuses_one_without_arr(sqlite_services):
    signal = hand_off(sqlite_services)
    view = opened(outcome_modal(signal.id, "Globex Corp"))
    ack = Acks()
    submit_outcome(ack, submission(view, AE, {"outcome": "won"})["view"], AE, signal.id,
                   sqlite_services)
    assert ack.once == ((), {"response_action": "errors",
                             "errors": {"won_arr": "How much expansion ARR was won?"}})
    assert only_signal(sqlite_services).stage == "handed_off"
    ack = Acks()
    body = submission(view, AE, {"outcome": "won", "won_arr": "48000"})
    submit_outcome(ack, body["view"], AE, signal.id, sqlite_services)
    assert ack.once == ((), {})
    stored = only_signal(sqlite_services)
    assert stored.stage == "won" and stored.won_arr == 48000


def test_submit_reassign_hands_it_to_the_new_ae(sqlite_services):
    signal = hand_off(sqlite_services)
    view = opened(reassign_modal(signal.id, "Globex Corp"))
    ack = Acks()
    body = submission(view, AE, {"new_ae": AE2, "reason": "Territory change"})
    submit_reassign(ack, body["view"], AE, signal.id, sqlite_services)
    assert ack.once == ((), {})
    assert only_signal(sqlite_services).ae_id == AE2


def test_submit_requalify_hands_off_once_the_threshold_is_met(sqlite_services):
    signal = hand_off(sqlite_services, qualification=["budget"])
    assert signal.stage == "qualifying"
    rubric = sqlite_services.config.rubric
    view = opened(requalify_modal(rubric, signal.id, "Globex Corp", {"budget": True}))
    ack = Acks()
    body = submission(view, CSM, {"qualification": ["budget", "buyer", "fit"]})
    submit_requalify(ack, body["view"], CSM, signal.id, sqlite_services)
    assert ack.once == ((), {})
    assert only_signal(sqlite_services).stage == "handed_off"


def test_a_submission_for_a_vanished_signal_is_refused_on_the_modal(sqlite_services):
    view = opened(reassign_modal(999, "Gone Inc"))
    ack = Acks()
    body = submission(view, AE, {"new_ae": AE2, "reason": "x"})
    submit_reassign(ack, body["view"], AE, 999, sqlite_services)
    _, kwargs = ack.once
    assert kwargs["errors"] == {"new_ae": "That signal no longer exists."}


def test_submit_change_model_makes_ae_and_csm_co_owners(sqlite_services):
    from blocks.modal import ownership_modal
    from handlers.follow_ups import submit_change_model

    signal = hand_off(sqlite_services)
    view = opened(ownership_modal(signal.id, "Globex Corp", "AE closes (Model B)",
                                  [("joint", "Joint motion (Model C)")], AE))
    ack = Acks()
    body = submission(view, CSM, {"model": "cs_led", "ae": AE, "reason": "Back to CS"})
    submit_change_model(ack, body["view"], CSM, signal.id, sqlite_services)
    assert ack.once == ((), {"response_action": "errors",
                             "errors": {"model": "Pick the model the deal moves up to."}})
    ack = Acks()
    body = submission(view, CSM, {"model": "joint", "ae": AE, "reason": "Three teams now"})
    submit_change_model(ack, body["view"], CSM, signal.id, sqlite_services)
    assert ack.once == ((), {})
    assert only_signal(sqlite_services).ownership == "joint"


def test_submit_extension_asks_the_manager_and_refuses_a_date_too_far(sqlite_services):
    from datetime import date

    from freezegun import freeze_time

    from blocks.modal import extension_modal
    from handlers.follow_ups import submit_extension
    from storage.models import Extension

    with freeze_time("2026-11-23 15:00:00"):
        signal = hand_off(sqlite_services)
        view = opened(extension_modal(signal.id, "Globex Corp", "tomorrow", date(2026, 12, 1)))
        ack = Acks()
        body = submission(view, AE, {"new_date": "2026-12-05", "reason": "Travel"})
        submit_extension(ack, body["view"], AE, signal.id, sqlite_services)
        assert "2026-12-01" in ack.once[1]["errors"]["new_date"]
        ack = Acks()
        body = submission(view, AE, {"new_date": "2026-11-26", "reason": "Travel"})
        submit_extension(ack, body["view"], AE, signal.id, sqlite_services)
        assert ack.once == ((), {})
    with sqlite_services.unit_of_work() as session:
        assert session.query(Extension).one().state == "pending"
