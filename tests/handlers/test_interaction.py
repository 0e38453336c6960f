"""What every listener shares: where an answer goes, commit-then-ack, opening a gated modal."""

from __future__ import annotations

from sqlalchemy import func, select

from blocks import card
from bot.delivery import make_client
from handlers.interaction import answer, commit_then_ack, open_modal
from service import outgoing
from storage.models import OutboxMessage
from tests.handlers.direct import Acks, press
from tests.people import CSM


def test_an_answer_goes_where_the_button_was_pressed_or_to_a_dm():
    in_dm = answer(press(card.NUDGE, 1, CSM, channel_id="D0CHAN"), CSM, "No.")
    assert (in_dm.kind, in_dm.payload["channel"]) == ("slack.ephemeral", "D0CHAN")
    on_home = answer(press(card.NUDGE, 1, CSM, channel_id=None, container={"type": "view"}),
                     CSM, "No.")
    assert (on_home.kind, on_home.target) == ("slack.post", CSM)


def test_commit_then_ack_acks_only_after_the_messages_are_committed(sqlite_services):
    committed_at_ack = []

    def ack(*args, **kwargs):
        with sqlite_services.unit_of_work() as session:  # a second session sees the commit
            committed_at_ack.append(session.scalar(select(func.count(OutboxMessage.id))))

    commit_then_ack(sqlite_services, ack, lambda session, now: [outgoing.home(CSM)])
    assert committed_at_ack == [1]
    assert sqlite_services.delivery_due.is_set()


def test_commit_then_ack_acks_even_when_there_is_nothing_to_say(sqlite_services):
    ack = Acks()
    commit_then_ack(sqlite_services, ack, lambda session, now: [])
    assert ack.once == ((), {})


def test_open_modal_opens_the_gated_view_and_nothing_otherwise(standin):
    client = make_client("xoxb-test", standin.base_url)
    body = press(card.RECORD_OUTCOME, 1, CSM)
    open_modal(client, body, {})
    assert standin.views_opened() == []
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Outcome"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    open_modal(client, body, {"modal_view": view})
    [opened] = standin.views_opened()
    assert opened["title"]["text"] == "Outcome" and not standin.rejections
