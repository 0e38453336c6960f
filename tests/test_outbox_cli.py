"""`signalbot outbox list | retry | drop`: a held Slack message re-sent without editing the
database, once; a drop that sticks; every action recorded with who, when and why."""

from __future__ import annotations

import io
import json

from freezegun import freeze_time
from sqlalchemy import select

from bot.cli import parser
from storage.models import OutboxMessage
from tests.conftest import AE, CSM
from tests.flow import log, worker


def outbox(services, *argv: str) -> tuple[int, str]:
    args = parser().parse_args(["outbox", *argv])
    out = io.StringIO()
    code = args.handler(args, services, out=out)
    return code, out.getvalue()


def cards(standin, user: str) -> list[dict]:
    return [m for m in standin.dm_messages(user)
            if (m.get("metadata") or {}).get("event_payload", {}).get("key", "")
            .startswith("card:")]


def test_held_messages_are_listed_retried_once_and_the_retry_recorded(services, standin):
    with freeze_time("2026-11-23 14:00:00"):
        sid = log(services)
        standin.fail_next("chat.postMessage", times=2, error="channel_not_found")
        first = worker(services, standin)
        first.deliverer.concurrency = 1  # the two cards meet the two faults, in order
        first.catch_up()
        assert cards(standin, AE) == []

        code, text = outbox(services, "list", "--held")
        assert code == 0
        held = [line for line in text.splitlines() if " held " in line]
        assert len(held) == 2 and all("channel_not_found" in line for line in held)

        code, text = outbox(services, "retry", "--held", "--by", "robin",
                            "--reason", "channel fixed")
        assert code == 0 and "2 re-queued" in text
        worker(services, standin).catch_up()
        assert len(cards(standin, AE)) == 1 and len(cards(standin, CSM)) == 1
        assert standin.duplicates() == []

        with services.unit_of_work() as session:
            ids = session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.signal_id == sid, OutboxMessage.kind == "slack.post")).all()
        code, text = outbox(services, "retry", *map(str, ids), "--by", "robin")
        assert code == 1 and "it is sent, not held" in text  # nothing goes twice

        code, text = outbox(services, "list", "--all", "--signal", str(sid))
    assert "retry by robin at 2026-11-23 14:00 UTC: channel fixed" in text
    code, text = outbox(services, "list", "--all", "--signal", str(sid), "--json")
    rows = json.loads(text)
    assert code == 0 and {row["status"] for row in rows} == {"sent"}
    assert [a["actor"] for row in rows for a in row["actions"]].count("robin") == 2
    assert outbox(services, "list", "--held")[1].strip() == "no outbox rows match"


def test_a_dropped_row_is_never_sent_and_says_who_dropped_it(services, standin):
    with freeze_time("2026-11-23 14:00:00"):
        sid = log(services)
        with services.unit_of_work() as session:
            row = session.scalar(select(OutboxMessage).where(
                OutboxMessage.signal_id == sid, OutboxMessage.target == CSM))
        code, text = outbox(services, "drop", str(row.id), "--reason", "CSM left", "--by", "sam")
        assert code == 0
        worker(services, standin).catch_up()
        assert cards(standin, CSM) == [] and len(cards(standin, AE)) == 1
        code, text = outbox(services, "list", "--all", "--signal", str(sid))
        assert "dropped" in text and "drop by sam at 2026-11-23 14:00 UTC: CSM left" in text
        code, text = outbox(services, "drop", str(row.id), "--reason", "again")
        assert code == 1 and "already dropped" in text
        assert outbox(services, "drop", "999999", "--reason", "x")[0] == 1


def test_retry_needs_ids_or_held(services, capsys):
    assert outbox(services, "retry")[0] == 2
    assert "give row ids, or --held" in capsys.readouterr().err


def six_held_in_batches_of_two(services, standin, monkeypatch) -> None:
    """Three signals whose six DMs are held (channel_not_found); retries go two a batch."""
    from bot import outbox_cli
    monkeypatch.setattr(outbox_cli, "RETRY_BATCH", 2)
    for n in range(3):
        log(services, account=f"Account {n}")
    standin.fail_next("chat.postMessage", times=6, error="channel_not_found")
    worker(services, standin).catch_up()


def test_retry_of_many_held_rows_goes_in_batches_with_progress(services, standin, capsys,
                                                              monkeypatch):
    with freeze_time("2026-11-23 14:00:00"):
        six_held_in_batches_of_two(services, standin, monkeypatch)
        code, text = outbox(services, "retry", "--held", "--by", "robin")
        assert code == 0 and "6 re-queued, 0 left alone" in text
        assert "outbox retry: 6/6 rows" in capsys.readouterr().err  # plain progress, no tty
        worker(services, standin).catch_up()
    assert len(cards(standin, AE)) == 3 and standin.duplicates() == []
