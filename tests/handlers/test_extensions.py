"""Need more time: the AE asks, the manager approves or declines, the clock runs meanwhile."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from blocks import card
from blocks.digest import digest_text
from protocol.digest import AeExtensions
from service import extensions
from service.digest import compute_digest, extensions_per_ae
from storage.models import Card, Deadline, Extension, OutboxMessage, Signal, SignalEvent
from tests.flow import at, log
from tests.handlers.test_card_actions import ephemerals_to, events, handed_off
from tests.people import ADMIN, AE, AE2, CSM, MGR, VP
from tests.support import validate_message_blocks

START = "2026-11-23 15:00:00"  # a Monday; hot: contact due Tuesday 15:00 UTC (10:00 in NY)


def contact(services) -> Deadline:
    with services.unit_of_work() as session:
        return session.scalars(select(Deadline).where(Deadline.clock == "contact")).one()


def the_extension(services) -> Extension:
    with services.unit_of_work() as session:
        return session.scalars(select(Extension).order_by(Extension.id.desc())).first()


def texts_to(standin, user) -> list[str]:
    return [f"{m['text']} {m.get('blocks')}" for m in standin.dm_messages(user)]


def ask(slack, signal_id: int, day: str, reason: str = "Buyer is travelling until Thursday"):
    view = slack.press_for_modal(card.ASK_EXTENSION, signal_id, AE)
    return view, slack.submit(view, AE, {"new_date": day, "reason": reason})


def answer(slack, action: str, signal_id: int, user: str, extension_id: int, ts: str = "1.1"):
    return slack.press(action, signal_id, user, block_id=f"{card.EXTENSION_BLOCK}{extension_id}",
                       action_ts=ts)


def acknowledged(slack):
    with freeze_time(START):
        signal = handed_off(slack)
    with freeze_time("2026-11-23 15:30:00"):
        slack.press(card.ACKNOWLEDGE, signal.id, AE)
        slack.deliver()
    return signal


def test_an_extension_approved_after_a_reminder_moves_the_deadline_and_replans(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 04:00:00"):  # half of the contact window: a reminder
        slack.sweep()
        slack.deliver()
    assert any("Reminder: log customer contact" in t for t in texts_to(slack.standin, AE))
    with freeze_time("2026-11-24 05:00:00"):
        view, response = ask(slack, signal.id, "2026-11-22")
        assert "past" in response.json()["errors"]["new_date"]
        response = slack.submit(view, AE, {"new_date": "2026-12-02", "reason": "Travel"})
        assert "2026-12-01" in response.json()["errors"]["new_date"]  # at most 7 days more
        response = slack.submit(view, AE, {"new_date": "2026-11-26", "reason": " "})
        assert "reason" in response.json()["errors"]
        response = slack.submit(view, AE, {"new_date": "2026-11-26",
                                           "reason": "Buyer <is> travelling"})
        assert response.status_code == 200 and not response.text
        slack.deliver()
    ext = the_extension(slack.services)
    assert ext.state == "pending" and ext.new_due == at("2026-11-26T15:00:00")
    assert contact(slack.services).due_at == at("2026-11-24T15:00:00")  # not a pause
    [asked] = [m for m in slack.standin.dm_messages(MGR) if "asks for more time" in str(m)]
    assert asked["channel"].startswith("D")  # a DM, never a public channel
    validate_message_blocks(asked["blocks"])
    assert "Buyer &lt;is&gt; travelling" in str(asked["blocks"])
    assert card.APPROVE_EXTENSION in str(asked["blocks"])
    ae_card = slack.standin.dm_messages(AE)[0]
    assert "More time asked" in str(ae_card["blocks"])  # the AE's card shows the request
    assert card.ASK_EXTENSION not in str(ae_card["blocks"])

    with freeze_time("2026-11-24 05:10:00"):  # a second press says one is waiting
        slack.press(card.ASK_EXTENSION, signal.id, AE, action_ts="2.2")
        slack.deliver()
    assert any("already waiting" in t for t in ephemerals_to(slack.standin, AE))

    with freeze_time("2026-11-24 12:40:00"):  # the clock keeps running: its 90% reminder
        slack.sweep()
        slack.deliver()
    assert sum("Reminder: log customer contact" in t for t in texts_to(slack.standin, AE)) == 2

    with freeze_time("2026-11-24 13:00:00"):
        assert answer(slack, card.APPROVE_EXTENSION, signal.id, MGR, ext.id).status_code == 200
        slack.deliver()
    deadline = contact(slack.services)
    assert deadline.due_at == at("2026-11-26T15:00:00") and deadline.state == "open"
    assert deadline.step == 0 and deadline.next_step_at == at("2026-11-25T03:00:00")
    assert the_extension(slack.services).decided_by == MGR
    with slack.services.unit_of_work() as session:
        manager_card = session.scalars(select(Card).where(Card.audience == "approver")).one()
    [updated] = [m for m in slack.standin.messages(manager_card.channel)
                 if m["ts"] == manager_card.ts]
    assert "Approved" in str(updated["blocks"]) and card.APPROVE_EXTENSION not in str(updated)
    assert any("approved" in t for t in texts_to(slack.standin, AE))
    assert any("approved" in t for t in texts_to(slack.standin, CSM))

    with freeze_time("2026-11-24 13:05:00"):  # an admin presses too late: answered politely
        answer(slack, card.DECLINE_EXTENSION, signal.id, ADMIN, ext.id, ts="3.3")
        slack.deliver()
    assert any(f"already approved by <@{MGR}>" in t for t in ephemerals_to(slack.standin, ADMIN))

    with freeze_time("2026-11-24 16:00:00"):  # the old deadline passes: nothing escalates
        slack.sweep()
    with freeze_time("2026-11-25 03:30:00"):  # the re-planned reminder
        slack.sweep()
        slack.deliver()
    assert sum("Reminder: log customer contact" in t for t in texts_to(slack.standin, AE)) == 3
    assert not any("Missed SLA" in t for t in texts_to(slack.standin, MGR))
    assert [k for k in events(slack.services) if k.startswith("extension")] == [
        "extension_requested", "extension_approved"]
    with slack.services.unit_of_work() as session:
        week = extensions_per_ae(session, at("2026-11-23T05:00:00"), at("2026-11-30T05:00:00"))
    assert week == [AeExtensions(AE, asked=1, granted=1)]
    with slack.services.unit_of_work() as session:
        digest = compute_digest(session, slack.services.config, at("2026-11-23T05:00:00"),
                                at("2026-11-30T05:00:00"), at("2026-11-30T14:00:00"))
    text = digest_text(digest)
    assert "Extensions of the contact SLA: 1 asked, 1 granted" in text
    assert "Alex AE — 1 asked, 1 granted" in text
    assert not slack.standin.rejections


def test_a_declined_extension_leaves_the_deadline_and_it_escalates(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 05:00:00"):
        ask(slack, signal.id, "2026-11-25")
        slack.deliver()
    ext = the_extension(slack.services)
    with freeze_time("2026-11-24 06:00:00"):
        answer(slack, card.APPROVE_EXTENSION, signal.id, AE2, ext.id)  # not their team's AE...
        answer(slack, card.APPROVE_EXTENSION, signal.id, AE, ext.id, ts="1.2")  # ...nor the asker
        slack.deliver()
    assert the_extension(slack.services).state == "pending"
    assert any("Only the AE's manager" in t for t in ephemerals_to(slack.standin, AE2))
    with freeze_time("2026-11-24 07:00:00"):
        answer(slack, card.DECLINE_EXTENSION, signal.id, MGR, ext.id, ts="1.3")
        slack.deliver()
    assert the_extension(slack.services).state == "declined"
    assert contact(slack.services).due_at == at("2026-11-24T15:00:00")
    assert any("declined" in t for t in texts_to(slack.standin, AE))
    assert any("declined" in t for t in texts_to(slack.standin, CSM))
    with freeze_time("2026-11-24 15:01:00"):
        slack.sweep()
        slack.deliver()
    assert any("Missed SLA" in t for t in texts_to(slack.standin, MGR))
    with slack.services.unit_of_work() as session:
        week = extensions_per_ae(session, at("2026-11-23T05:00:00"), at("2026-11-30T05:00:00"))
    assert week == [AeExtensions(AE, asked=1, granted=0)]


def test_a_press_after_the_deadline_passed_finds_the_request_lapsed(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 05:00:00"):
        ask(slack, signal.id, "2026-11-25")
        slack.deliver()
    ext = the_extension(slack.services)
    with freeze_time("2026-11-24 15:01:00"):  # missed while waiting: escalated as usual
        slack.sweep()
        slack.deliver()
    with slack.services.unit_of_work() as session:
        manager_card = session.scalars(select(Card).where(Card.audience == "approver")).one()
    [shown] = [m for m in slack.standin.messages(manager_card.channel)
               if m["ts"] == manager_card.ts]
    assert card.APPROVE_EXTENSION not in str(shown) and "lapsed" in str(shown["blocks"])
    with freeze_time("2026-11-24 15:05:00"):
        answer(slack, card.APPROVE_EXTENSION, signal.id, MGR, ext.id)
        slack.deliver()
    assert any("Too late" in t for t in ephemerals_to(slack.standin, MGR))
    assert the_extension(slack.services).state == "lapsed"
    assert contact(slack.services).due_at == at("2026-11-24T15:00:00")
    with freeze_time("2026-11-24 15:10:00"):  # nothing left to extend
        slack.press(card.ASK_EXTENSION, signal.id, AE, action_ts="5.5")
        slack.deliver()
    assert any("not on a running clock" in t for t in ephemerals_to(slack.standin, AE))


def test_a_closed_signal_lapses_the_request(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 05:00:00"):
        ask(slack, signal.id, "2026-11-25")
        slack.press(card.LOG_CONTACT, signal.id, AE, action_ts="4.4")
        slack.deliver()
        answer(slack, card.APPROVE_EXTENSION, signal.id, MGR, the_extension(slack.services).id)
        slack.deliver()
    assert any("Too late" in t for t in ephemerals_to(slack.standin, MGR))
    assert the_extension(slack.services).state == "lapsed"


def test_the_messages_go_in_the_same_transaction_as_the_request(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 05:00:00"):
        ask(slack, signal.id, "2026-11-25")
    with slack.services.unit_of_work() as session:
        keys = session.scalars(select(OutboxMessage.key).where(OutboxMessage.status == "pending"))
        assert any(f":approver:{MGR}:" in k for k in keys)


@pytest.mark.postgres
def test_two_answers_at_once_decide_once(pg_url, standin):
    from tests.conftest import make_services

    services = make_services(pg_url, standin)
    with freeze_time(START):
        signal_id = log(services)
    with freeze_time("2026-11-23 16:00:00"):
        with services.unit_of_work() as session:
            signal = session.get(Signal, signal_id)
            ext = extensions.ask(session, services.config, signal, AE, date(2026, 11, 25),
                                 "Travel", services.now()).id
        results: list[str] = []
        barrier = threading.Barrier(2)

        def press(user: str, approve: bool) -> None:
            barrier.wait()
            try:
                with services.unit_of_work() as session:
                    from storage.queries import signal_for_update

                    locked = signal_for_update(session, signal_id)
                    extensions.decide(session, services.config, locked, ext, user, approve,
                                      services.now())
                results.append("decided")
            except Exception as exc:  # noqa: BLE001 - the loser's polite refusal
                results.append(str(exc))

        threads = [threading.Thread(target=press, args=(MGR, True)),
                   threading.Thread(target=press, args=(ADMIN, False))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results.count("decided") == 1
    assert any("already" in r for r in results if r != "decided")
    with services.unit_of_work() as session:
        answered = session.scalars(select(SignalEvent.kind).where(
            SignalEvent.kind.in_(("extension_approved", "extension_declined")))).all()
    assert len(answered) == 1
    services.engine.dispose()


def test_a_manager_away_has_the_request_answered_one_level_up(slack):
    signal = acknowledged(slack)
    with freeze_time("2026-11-24 04:00:00"):
        away = slack.command(MGR, "away until 2026-11-27")  # no cover: one level up
        assert away.status_code == 200 and "away" in away.json()["text"]
    with freeze_time("2026-11-24 05:00:00"):
        ask(slack, signal.id, "2026-11-25")
        slack.deliver()
    ext = the_extension(slack.services)
    assert ext.approvers["users"] == [VP]
    assert any("asks for more time" in t for t in texts_to(slack.standin, VP))
    assert not any("asks for more time" in t for t in texts_to(slack.standin, MGR))
    with freeze_time("2026-11-24 06:00:00"):
        answer(slack, card.APPROVE_EXTENSION, signal.id, VP, ext.id)
        slack.deliver()
    assert the_extension(slack.services).state == "approved"
