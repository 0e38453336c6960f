"""Slack's limits, enforced before Slack does: the config is refused at start, and the largest
output the config and the input limits allow passes every surface through the stand-in, which
refuses what Slack would (standin/limits.py)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from blocks import card
from blocks.limits import OPTION_TEXT, PRIVATE_METADATA
from blocks.suggestion import dismiss_modal, suggestion
from blocks.text import urgency_label
from bot.config import ConfigError, Criterion, Rubric, load_config
from protocol.catalogue import URGENCIES
from protocol.policy import SlaWindow
from protocol.readiness import Part, Score
from protocol.record import LIMITS
from standin import requests as slack_requests
from standin.limits import violations
from standin.server import validate_view
from storage.models import Signal
from tests.handlers.test_digest import preview as digest_preview
from tests.people import ADMIN, AE, CSM, MGR, roster_config
from tests.support import VALID_SIGNAL, validate_message_blocks, wait_for

WORST = "&<>*_~`"  # each mrkdwn control character; escaping makes `&<>` longer


def long(n: int, seed: str = WORST) -> str:
    return (seed * n)[:n]


def criteria(n: int, label: int = OPTION_TEXT, hint: int = OPTION_TEXT) -> list[Criterion]:
    return [Criterion(f"c{i}", long(label - 1) + str(i), long(hint)) for i in range(n)]


# --- the config is checked against what the surfaces can show ---------------------------


def rubric_yaml(n: int, label: int = 10, hint: int = 0) -> str:
    items = "".join(f"    - {{key: c{i}, label: '{'L' * label}', hint: '{'h' * hint}'}}\n"
                    for i in range(n))
    return f"qualification:\n  threshold: 1\n  criteria:\n{items}"


@pytest.mark.parametrize("yaml, key, limit", [
    (rubric_yaml(11), "qualification.criteria", "at most 10"),
    (rubric_yaml(3, label=76), "qualification.criteria[0].label", "at most 75"),
    (rubric_yaml(3, hint=76), "qualification.criteria[0].hint", "at most 75"),
])
def test_a_rubric_the_modal_cannot_show_is_refused_at_start(tmp_path: Path, yaml, key, limit):
    path = tmp_path / "signalbot.yml"
    path.write_text(yaml)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message and key in message and limit in message


def test_the_largest_rubric_loads(tmp_path: Path):
    path = tmp_path / "signalbot.yml"
    path.write_text(rubric_yaml(10, label=75, hint=75))
    assert len(load_config(path).rubric.criteria) == 10


def test_urgency_options_fit_with_the_longest_windows():
    """The urgency radio options name their configured window: the longest still fits."""
    longest = SlaWindow(ack=timedelta(days=9999, hours=23, minutes=59),
                        contact=timedelta(days=9999, hours=23, minutes=59),
                        review=timedelta(days=9999, hours=23))
    windows = dict.fromkeys(URGENCIES, longest)
    assert all(len(urgency_label(u, windows)) <= OPTION_TEXT for u in URGENCIES)


# --- the stand-in refuses what Slack refuses -----------------------------------------------


def test_the_standin_refuses_a_context_element_over_3000(standin):
    client = WebClient(token="xoxb-test", base_url=standin.base_url)
    blocks = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}]
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="t", blocks=blocks)
    assert exc.value.response["error"] == "invalid_blocks"
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=slack_requests.new_trigger_id(), view={
            "type": "modal", "title": {"type": "plain_text", "text": "t"},
            "private_metadata": "x" * (PRIVATE_METADATA + 1), "blocks": []})
    assert exc.value.response["error"] == "invalid_arguments"


# --- every surface at its largest ------------------------------------------------------------


@pytest.fixture
def config():
    return roster_config(rubric=Rubric(criteria=tuple(criteria(10)), threshold=10))


LARGEST = {
    **VALID_SIGNAL,
    "account": long(LIMITS["account"]),
    "detail": long(LIMITS["detail"]),
    "buyer_name": long(LIMITS["buyer_name"]),
    "buyer_title": long(LIMITS["buyer_title"]),
    "timeline": long(LIMITS["timeline"]),
    "note": long(LIMITS["note"]),
    "est_arr": "999999999",
    "qualification": [f"c{i}" for i in range(10)],
}


def open_home(slack, user):
    slack.post(slack_requests.event_callback(slack.secret,
                                             event=slack_requests.app_home_opened(user)))
    slack.deliver()
    return slack.standin.published_home(user)


def test_every_surface_at_its_largest_passes_slacks_limits(slack):
    with freeze_time("2026-11-17 15:00:00"):
        view = slack.open_signal_modal(CSM, long(LIMITS["account"]) + " hot")
        answer = slack.submit(view, CSM, LARGEST)
        assert answer.status_code == 200 and "errors" not in answer.text, answer.text
        slack.deliver()
        [ae_card] = slack.standin.dm_messages(AE)
        assert slack.standin.dm_messages(CSM)
    # reminders, then escalations to the manager and on to the admins
    for moment in ("2026-11-17 18:00:00", "2026-11-17 20:00:00", "2026-11-18 16:00:00",
                   "2026-11-19 16:00:00"):
        with freeze_time(moment):
            slack.sweep()
            slack.deliver()
    assert slack.standin.dm_messages(MGR)
    with freeze_time("2026-11-19 16:00:00"):
        unqualified = {**LARGEST, "qualification": []}
        assert slack.submit(slack.open_signal_modal(CSM), CSM, unqualified).status_code == 200
        with slack.services.unit_of_work() as session:
            first, second = session.scalars(select(Signal.id).order_by(Signal.id)).all()
        slack.press(card.RECORD_OUTCOME, first, AE)
        slack.press(card.REASSIGN, first, AE)
        slack.press(card.REQUALIFY, second, CSM)
        wanted = {"signal_modal", "outcome_modal", "reassign_modal", "requalify_modal"}
        wait_for(lambda: {v["callback_id"] for v in slack.standin.views_opened()} == wanted)
        for user in (AE, CSM, MGR, ADMIN):
            assert open_home(slack, user) is not None
    with freeze_time("2026-11-23 16:00:00"):  # the weekly digest, posted and previewed
        slack.sweep()
        slack.deliver()
        assert slack.standin.messages("C0DIGEST01")
        preview = digest_preview(slack, MGR)
        assert violations(preview["blocks"]) == []
    assert slack.standin.rejections == [], slack.standin.rejections[0].errors
    for message in slack.standin.all_posts():
        validate_message_blocks(message["blocks"] or [{"type": "divider"}])


def test_the_suggestion_dm_at_its_largest_fits():
    parts = tuple(Part(f"k{i}", long(75), long(200), 10, 10) for i in range(10))
    text, blocks = suggestion(10**9, long(LIMITS["account"]), "api_limit", "hot", long(3000),
                              Score(parts, 100, 0, "work"), snooze_days=30,
                              windows=roster_config().sla, csm_id=None)
    validate_message_blocks(blocks)
    assert len(text) <= 40_000


def test_the_dismiss_modal_at_its_largest_fits():
    view = dismiss_modal(10**9, long(LIMITS["account"]), "api_limit")
    assert validate_view(view) == []
