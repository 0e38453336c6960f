"""Slack refuses the bot's own token or workspace: delivery pauses, nobody is blamed, it heals."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from service.slack_pause import TOKEN_ERRORS, slack_paused
from storage.models import Escalation, OutboxMessage, Person
from tests.people import ADMIN, AE, CSM, MGR

LATER = timedelta(minutes=30)


def rows(services) -> list[tuple[str, str]]:
    with services.unit_of_work() as session:
        return [(r.key, r.status) for r in session.scalars(select(OutboxMessage))]


def at(slack, delta: timedelta) -> None:
    start = slack.services.now()
    slack.worker.deliverer.clock = lambda: start + delta


@pytest.mark.parametrize("error", sorted(TOKEN_ERRORS))
def test_token_errors_pause_and_resume_without_blaming_anyone(slack, caplog, error):
    assert slack.log_signal().status_code == 200
    fields = {"needed": "chat:write", "provided": "commands"} if error == "missing_scope" else {}
    slack.standin.fail_next(None, times=100_000, error=error, fields=fields)  # every method
    caplog.set_level(logging.ERROR, logger="bot.delivery")

    for _ in range(3):
        slack.deliver()
    assert {status for _, status in rows(slack.services)} == {"pending"}
    assert slack_paused(slack.services)
    paused_logs = [r for r in caplog.records if "Slack delivery paused" in r.getMessage()]
    assert len(paused_logs) == 1 and error in paused_logs[0].getMessage()
    calls = len(slack.standin.calls)
    slack.deliver()
    assert len(slack.standin.calls) == calls  # nothing is tried before the check is due

    at(slack, timedelta(minutes=1))  # the check is due, Slack still refuses
    slack.deliver()
    assert [c.method for c in slack.standin.calls[calls:]] == ["auth.test"]
    assert slack_paused(slack.services)

    slack.standin.clear_faults()  # Slack works again
    at(slack, LATER)
    slack.deliver()
    assert slack_paused(slack.services) is None
    assert len(slack.standin.dm_messages(AE)) == 1  # the hand-off, exactly once
    assert slack.standin.dm_messages(MGR) == []
    [note] = slack.standin.dm_messages(ADMIN)
    assert "paused" in note["text"] and error in note["text"]
    assert {status for _, status in rows(slack.services)} == {"sent"}
    with slack.services.unit_of_work() as session:
        assert not session.scalars(select(Person).where(Person.deactivated)).all()
        assert not session.scalars(select(Escalation)).all()
    assert not slack.standin.duplicates()


def test_missing_scope_waits_for_the_scope_and_names_the_manifest_line(slack):
    assert slack.log_signal().status_code == 200
    slack.standin.scopes.discard("im:write")
    slack.standin.fail_next("conversations.open", times=100_000, error="missing_scope",
                            fields={"needed": "im:write", "provided": "chat:write"})
    slack.deliver()
    why = slack_paused(slack.services)
    assert "- im:write" in why and "manifest.yml" in why
    slack.standin.clear_faults()
    at(slack, LATER)
    slack.deliver()  # auth.test works, but the token still lacks the scope
    assert slack_paused(slack.services)
    slack.standin.scopes.add("im:write")  # the admin reinstalled with the scope
    at(slack, 2 * LATER)
    slack.deliver()
    assert slack_paused(slack.services) is None
    assert len(slack.standin.dm_messages(AE)) == 1


def test_a_wrong_deactivated_mark_heals_after_the_profile_ttl(slack):
    with slack.services.unit_of_work() as session:
        session.add(Person(slack_id=AE, deactivated=True,
                           profile_checked_at=slack.services.now() - timedelta(days=2)))
    assert slack.log_signal().status_code == 200
    slack.deliver()
    assert len(slack.standin.dm_messages(AE)) == 1
    with slack.services.unit_of_work() as session:
        assert session.get(Person, AE).deactivated is False
    assert slack.standin.dm_messages(CSM)
