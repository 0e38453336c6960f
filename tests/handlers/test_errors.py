"""The global error handler: a reference in the log, a plain sentence to the person."""

from __future__ import annotations

import json
import logging

from blocks.modal import Prefill, signal_modal
from handlers.errors import on_error
from protocol.config import Config
from protocol.policy import DEFAULT_RUBRIC
from tests.handlers.direct import command, submission
from tests.people import CSM
from tests.support import VALID_SIGNAL


def test_a_failed_command_gets_an_ephemeral_sorry_with_the_logged_reference(caplog):
    with caplog.at_level(logging.ERROR, logger="signalbot.errors"):
        response = on_error(RuntimeError("boom"), command(CSM, "list"))
    answer = json.loads(response.body)
    assert answer["response_type"] == "ephemeral" and "Traceback" not in answer["text"]
    [record] = caplog.records
    assert record.args[0] in answer["text"]  # the same reference in the log and the answer


def test_a_failed_submission_is_answered_next_to_the_first_field():
    view = {**signal_modal(DEFAULT_RUBRIC, Config().sla, Prefill()), "id": "V0FAILED01"}
    body = submission(view, CSM, VALID_SIGNAL)
    answer = json.loads(on_error(RuntimeError("boom"), body).body)
    assert answer["response_action"] == "errors"
    [(block, text)] = answer["errors"].items()
    assert block == "account" and len(text) <= 150


def test_anything_else_is_acked_empty():
    response = on_error(RuntimeError("boom"), {"type": "block_actions"})
    assert (response.status, response.body) == (200, "")
