"""The request context every listener is called with: services, actor, subject."""

from __future__ import annotations

from blocks import card
from handlers.context import fill
from tests.handlers.direct import command, press, submission
from tests.people import AE, CSM


def test_a_button_names_its_presser_and_its_signal(sqlite_services):
    context: dict = {}
    fill(context, press(card.ACKNOWLEDGE, 42, AE), sqlite_services)
    assert context == {"services": sqlite_services, "actor": AE, "subject_id": 42}


def test_a_view_names_its_signal_from_private_metadata(sqlite_services):
    view = {"type": "modal", "callback_id": "outcome_modal", "id": "V0CONTEXT1",
            "title": {"type": "plain_text", "text": "Outcome"},
            "private_metadata": '{"signal": 7}', "blocks": []}
    context: dict = {}
    fill(context, submission(view, CSM, {}), sqlite_services)
    assert (context["actor"], context["subject_id"]) == (CSM, 7)


def test_a_command_has_an_actor_and_no_subject(sqlite_services):
    context: dict = {}
    fill(context, command(CSM, "help"), sqlite_services)
    assert (context["actor"], context["subject_id"]) == (CSM, None)


def test_a_bad_value_is_no_subject(sqlite_services):
    context: dict = {}
    fill(context, press(card.ACKNOWLEDGE, "not-a-number", AE), sqlite_services)
    assert context["subject_id"] is None
