"""A person who writes to the bot gets a short help; the bot's own posts and edits do not."""

from __future__ import annotations

from standin import requests as slack_requests
from standin.server import BOT_ID, BOT_USER_ID
from tests.people import AE


def message_im(slack, **event):
    base = {"type": "message", "channel_type": "im", "channel": slack.standin.dm_channel(AE),
            "ts": slack_requests.new_action_ts()}
    response = slack.post(slack_requests.event_callback(slack.secret, event={**base, **event}))
    assert response.status_code == 200


def test_a_person_writing_to_the_bot_gets_help_once(slack):
    message_im(slack, user=AE, text="hi, can you move my signal?", ts="1795000000.000100")
    message_im(slack, user=AE, text="hi, can you move my signal?", ts="1795000000.000100")
    slack.deliver()
    [answer] = slack.standin.dm_messages(AE)
    assert "/signal" in answer["text"] and "don't read replies" in answer["text"]


def test_the_bots_own_posts_and_edits_get_no_answer(slack):
    message_im(slack, user=BOT_USER_ID, bot_id=BOT_ID, text="A hand-off for you")
    message_im(slack, subtype="message_changed", message={"user": AE, "text": "edited"})
    message_im(slack, user=AE, subtype="message_deleted")
    slack.deliver()
    assert slack.standin.dm_messages(AE) == []
    assert not slack.standin.rejections


def test_answer_dm_directly(sqlite_services):
    from sqlalchemy import select

    from handlers.direct_messages import answer_dm
    from storage.models import OutboxMessage

    base = {"type": "message", "channel_type": "im", "channel": "D0AE00001"}
    answer_dm({**base, "user": AE, "ts": "1795000000.000100", "text": "hi"}, sqlite_services)
    answer_dm({**base, "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": "1795000000.000200"},
              sqlite_services)
    with sqlite_services.unit_of_work() as session:
        rows = session.scalars(select(OutboxMessage)).all()
        assert [(r.target, r.key) for r in rows] == [(AE, "dm-help:D0AE00001:1795000000.000100")]
