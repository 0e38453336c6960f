"""`/signal digest`: acked at once; the caller alone then sees last week's digest, sent to
the command's response_url (again without charts if the workspace refuses them)."""

from __future__ import annotations

from freezegun import freeze_time
from sqlalchemy import select

from service.sweep import sweep
from storage.models import OutboxMessage
from tests.people import CSM, MGR
from tests.support import validate_message_blocks as validate
from tests.support import wait_for


def preview(slack, user: str = MGR, answers: int = 1) -> dict:
    """`/signal digest` by `user`; the last of the `answers` sent to its response_url."""
    key = f"digest-{user}"
    response = slack.command(user, "digest", response_url=slack.standin.response_url(key))
    assert response.status_code == 200, response.text
    assert not response.content  # an empty ack: the preview follows
    sent = wait_for(lambda: [body for k, body in slack.standin.responses
                             if k == key][answers - 1:])
    return sent[-1]


def test_preview_is_ephemeral_valid_and_counts_last_week(slack):
    with freeze_time("2026-11-17 15:00:00"):  # Tuesday of the week reported on
        assert slack.log_signal().status_code == 200
        assert slack.log_signal(account="Initech", qualification=["budget"]).status_code == 200
    # Globex was not acknowledged within 4 h: the sweep escalates it
    with freeze_time("2026-11-17 19:30:00"), slack.services.unit_of_work() as session:
        sweep(session, slack.services.config, slack.services.now())
    with freeze_time("2026-11-23 16:00:00"):
        body = preview(slack)
        slack.deliver()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("Weekly expansion digest, 16–22 Nov 2026: 2 signals logged")
    blocks = body["blocks"]
    validate(blocks)
    shown = str(blocks)
    assert f"Preview for <@{MGR}>" in shown and "<#C0DIGEST01>" in shown
    assert "2 (▲2 vs last week)" in shown and "0% · 0 of 1" in shown
    assert "*Globex Corp* · Hot" in shown  # escalated, still open, not acknowledged
    assert f"<@{CSM}> — 0 of 1 won (0%)" in shown
    # a preview only: nothing queued, nothing in the channel
    with slack.services.unit_of_work() as session:
        keys = session.scalars(select(OutboxMessage.key)).all()
    assert not [k for k in keys if k.startswith("digest")]
    assert slack.standin.messages("C0DIGEST01") == []
    assert not slack.standin.rejections


def test_preview_of_an_empty_week(slack):
    with freeze_time("2026-11-23 16:00:00"):
        body = preview(slack, CSM)
    assert body["response_type"] == "ephemeral"
    assert "0 signals logged" in body["text"]
    validate(body["blocks"])


def test_digest_preview_directly_names_the_channel_and_the_caller(sqlite_services):
    from handlers.digest import digest_preview

    answer = digest_preview(sqlite_services, CSM)
    assert answer["response_type"] == "ephemeral"
    note = answer["blocks"][0]["elements"][0]["text"]
    assert f"<@{CSM}>" in note and "<#C0DIGEST01>" in note
    assert len(answer["blocks"]) <= 50


def test_a_workspace_refusing_charts_gets_the_preview_without_them(slack):
    with freeze_time("2026-11-10 15:00:00"):
        assert slack.log_signal().status_code == 200
    with freeze_time("2026-11-17 15:00:00"):
        assert slack.log_signal(account="Initech").status_code == 200
    slack.standin.refuse_block_types("data_visualization")
    with freeze_time("2026-11-23 16:00:00"):
        body = preview(slack)
    assert body["blocks"] and not [b for b in body["blocks"] if b["type"] == "data_visualization"]
    validate(body["blocks"])
    # the first answer was refused as Slack refuses it at a response_url: HTTP 400, bare error
    [refused] = [r for r in slack.standin.rejections if r.method == "response_url"]
    assert refused.error == "invalid_blocks"
    assert "SLA attainment" in body["text"] and len(slack.standin.responses) == 1


def test_the_preview_of_a_charted_week_holds_the_charts(slack):
    with freeze_time("2026-11-17 15:00:00"):
        assert slack.log_signal().status_code == 200
    with freeze_time("2026-11-23 16:00:00"):
        body = preview(slack)
    assert [b for b in body["blocks"] if b["type"] == "data_visualization"]
    assert not slack.standin.rejections


def test_send_digest_preview_directly_answers_once_and_only_when_asked(sqlite_services):
    from handlers.digest import send_digest_preview

    class Sent:
        status_code, body = 200, "ok"

    answers: list[dict] = []
    respond = lambda **answer: answers.append(answer) or Sent()  # noqa: E731
    send_digest_preview(respond, {}, sqlite_services)  # a modal request: not for it
    assert answers == []
    send_digest_preview(respond, {"digest_preview_for": CSM}, sqlite_services)
    [answer] = answers
    assert answer["response_type"] == "ephemeral" and f"<@{CSM}>" in str(answer["blocks"])
