"""Capture: /signal opens the modal, a valid submission hands off, invalid ones stay open."""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from storage.models import OutboxMessage, Signal, SignalEvent
from tests.people import AE, CSM
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


def test_the_delivered_cards_show_the_checklist_as_answered(slack):
    """The worker renders a batch of cards with their checklists read in one statement; each
    card ticks what its own signal met (two signals, two different checklists)."""
    slack.log_signal(qualification=["budget", "buyer", "timeline"])
    slack.log_signal(qualification=["budget", "buyer", "timeline", "fit"],
                     account="Initech")
    assert slack.deliver().held == 0
    rubric = {c.key: c.label for c in slack.services.config.rubric.criteria}
    cards = {post["text"]: json.dumps(post["blocks"]) for post in slack.standin.dm_messages(AE)}
    assert len(cards) == 2
    for account, met in (("Globex Corp", {"budget", "buyer", "timeline"}),
                         ("Initech", {"budget", "buyer", "timeline", "fit"})):
        [blocks] = [blocks for text, blocks in cards.items() if account in text]
        for key, label in rubric.items():
            mark = ":white_check_mark:" if key in met else ":white_medium_square:"
            assert f"{mark} {label}" in blocks, (account, key)


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


# The listeners called directly, as Bolt calls them.


def test_submit_signal_commits_before_it_acks(sqlite_services):
    from handlers.signal_modal import submit_signal
    from tests.handlers.direct import capture_view, submission

    services = sqlite_services
    body = submission(capture_view(services), CSM, VALID_SIGNAL)
    seen_at_ack = []

    def ack(*args, **kwargs):
        seen_at_ack.append((args, kwargs, len(signals(services))))

    submit_signal(ack, body["view"], CSM, services)
    assert seen_at_ack == [((), {}, 1)]  # the signal was committed when the ack went out
    assert services.delivery_due.is_set()  # and the delivery loop was woken


def test_submit_signal_puts_errors_next_to_the_fields(sqlite_services):
    from handlers.signal_modal import submit_signal
    from tests.handlers.direct import Acks, capture_view, submission

    body = submission(capture_view(sqlite_services), CSM, {**VALID_SIGNAL, "buyer_name": "  "})
    ack = Acks()
    submit_signal(ack, body["view"], CSM, sqlite_services)
    _, kwargs = ack.once
    assert kwargs["response_action"] == "errors" and set(kwargs["errors"]) == {"buyer_name"}
    assert signals(sqlite_services) == []


def test_ack_shortcut_only_acks():
    from handlers.signal_modal import ack_shortcut
    from tests.handlers.direct import Acks

    ack = Acks()
    ack_shortcut(ack)
    assert ack.once == ((), {})


def test_open_from_message_opens_the_modal_with_the_message(sqlite_services, standin):
    from bot.delivery import make_client
    from handlers.signal_modal import open_from_message
    from standin import requests as slack_requests
    from tests.handlers.direct import body_of
    from tests.people import SECRET

    body = body_of(slack_requests.message_shortcut(
        SECRET, user_id=CSM, callback_id="log_signal_from_message", channel_id="C0CUSTOMER",
        message_ts="1700000000.000100", message_text="They &lt;3 the API"))
    open_from_message(make_client("xoxb-test", standin.base_url), body, sqlite_services)
    [view] = standin.views_opened()
    note = next(b for b in view["blocks"] if b.get("block_id") == "note")
    assert note["element"]["initial_value"] == "They <3 the API"
    assert not standin.rejections
