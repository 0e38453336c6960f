"""Stages and moves: what may be done from where, and the polite refusals."""

from __future__ import annotations

import pytest

from protocol import stages


@pytest.mark.parametrize(("stage", "allowed"), [
    ("signal", ("hand_off", "requalify")),
    ("qualifying", ("hand_off", "requalify")),
    ("handed_off", ("acknowledge", "contact", "reassign", "outcome")),
    ("acknowledged", ("contact", "reassign", "outcome")),
    ("contacted", ("reassign", "outcome")),
    ("won", ()),
    ("not_ready", ()),
])
def test_allowed_actions_follow_the_table(stage, allowed):
    assert stages.allowed_actions(stage) == allowed
    for action in stages.ALLOWED_FROM:
        if action in allowed:
            stages.check_move(action, stage)
        else:
            with pytest.raises(stages.StageError):
                stages.check_move(action, stage)


@pytest.mark.parametrize(("action", "stage", "says"), [
    ("acknowledge", "won", "already closed (Won)"),
    ("acknowledge", "contacted", "already acknowledged (now: Customer contacted)"),
    ("contact", "contacted", "Customer contact was already logged"),
    ("outcome", "qualifying", "has not been handed off yet"),
    ("hand_off", "acknowledged", "no longer applies: this signal is now Acknowledged"),
])
def test_refusals_say_why(action, stage, says):
    with pytest.raises(stages.StageError, match=says.replace("(", r"\(").replace(")", r"\)")):
        stages.check_move(action, stage)


def test_open_until_an_outcome():
    assert all(stages.is_open(s) for s in stages.OPEN_STAGES)
    assert not any(stages.is_open(s) for s in stages.OUTCOMES)
    assert set(stages.STAGE_LABELS) == set(stages.STAGES)
