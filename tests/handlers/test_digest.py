"""`/signal digest`: the caller alone sees last week's digest, in the HTTP answer itself."""

from __future__ import annotations

from freezegun import freeze_time
from sqlalchemy import select

from service.sweep import sweep
from storage.models import OutboxMessage
from tests.people import CSM, MGR
from tests.support import validate_message_blocks as validate


def preview(slack, user: str = MGR) -> dict:
    response = slack.command(user, "digest")
    assert response.status_code == 200, response.text
    return response.json()


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
