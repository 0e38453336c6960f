"""Buttons on the cards, pressed by the right and the wrong people, fresh and stale."""

from __future__ import annotations

from datetime import date, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from blocks import card
from storage.models import Card, Signal, SignalEvent
from tests.handlers.direct import gate
from tests.people import ADMIN, AE, AE2, CSM, MGR


def only_signal(services) -> Signal:
    with services.unit_of_work() as session:
        return session.scalars(select(Signal)).one()


def events(services) -> list[str]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(SignalEvent.kind).order_by(SignalEvent.id)))


def ephemerals_to(standin, user):
    return [
        c.params["text"]
        for c in standin.calls_to("chat.postEphemeral")
        if c.params.get("user") == user
    ]


def handed_off(slack, **changes) -> Signal:
    assert slack.log_signal(**changes).status_code == 200
    slack.deliver()
    return only_signal(slack.services)


def test_acknowledge_moves_the_stage_and_updates_every_card(slack):
    signal = handed_off(slack)
    assert slack.press(card.ACKNOWLEDGE, signal.id, AE).status_code == 200
    assert only_signal(slack.services).stage == "acknowledged"
    slack.deliver()
    updates = slack.standin.calls_to("chat.update")
    with slack.services.unit_of_work() as session:
        cards = session.scalars(select(Card)).all()
    assert {(u.params["channel"], u.params["ts"]) for u in updates} == {
        (c.channel, c.ts) for c in cards
    }
    assert all("Acknowledged" in str(u.params["blocks"]) for u in updates)
    assert any("acknowledged your" in m["text"] for m in slack.standin.dm_messages(CSM))
    assert not slack.standin.rejections


def test_someone_else_is_refused_without_learning_whose_signal_it_is(slack):
    signal = handed_off(slack)
    slack.press(card.ACKNOWLEDGE, signal.id, AE2)
    slack.deliver()
    assert only_signal(slack.services).stage == "handed_off"
    [text] = ephemerals_to(slack.standin, AE2)
    assert "not yours" in text and f"<@{AE}>" not in text


def test_manager_and_admin_may_act_for_the_ae(slack):
    signal = handed_off(slack)
    slack.press(card.ACKNOWLEDGE, signal.id, MGR)
    assert only_signal(slack.services).stage == "acknowledged"
    slack.press(card.LOG_CONTACT, signal.id, ADMIN)
    assert only_signal(slack.services).stage == "contacted"


def test_a_stale_button_says_so_instead_of_applying_twice(slack):
    signal = handed_off(slack)
    slack.press(card.ACKNOWLEDGE, signal.id, AE)
    slack.press(card.ACKNOWLEDGE, signal.id, AE)
    slack.deliver()
    assert events(slack.services).count("acknowledged") == 1
    [text] = ephemerals_to(slack.standin, AE)
    assert "already acknowledged" in text


def test_log_contact_implies_acknowledgement(slack):
    signal = handed_off(slack)
    slack.press(card.LOG_CONTACT, signal.id, AE)
    stored = only_signal(slack.services)
    assert stored.stage == "contacted"
    assert stored.acknowledged_at is not None and stored.contacted_at is not None


def test_record_outcome_won_needs_the_arr_and_tells_the_csm(slack):
    signal = handed_off(slack)
    view = slack.press_for_modal(card.RECORD_OUTCOME, signal.id, AE)
    bad = slack.submit(view, AE, {"outcome": "won"}).json()
    assert bad == {
        "response_action": "errors",
        "errors": {"won_arr": "How much expansion ARR was won?"},
    }
    assert slack.submit(
        view, AE, {"outcome": "won", "won_arr": "48000", "reason": "Ops <team> & finance"}
    ).text in ("", "null")
    stored = only_signal(slack.services)
    assert stored.stage == "won" and stored.won_arr == 48000
    slack.deliver()
    told = [m["text"] for m in slack.standin.dm_messages(CSM) if "Outcome" in m["text"]]
    assert told and "Won" in told[0] and "48,000" in told[0]
    assert "&lt;team&gt; &amp; finance" in told[0]
    assert not slack.standin.rejections


def test_deferred_needs_a_future_revisit_date(slack):
    signal = handed_off(slack)
    view = slack.press_for_modal(card.RECORD_OUTCOME, signal.id, AE)
    errors = slack.submit(view, AE, {"outcome": "deferred"}).json()["errors"]
    assert "revisit_on" in errors
    later = (date.today() + timedelta(days=60)).isoformat()
    slack.submit(view, AE, {"outcome": "deferred", "revisit_on": later})
    stored = only_signal(slack.services)
    assert stored.stage == "deferred" and stored.revisit_on.isoformat() == later


def test_outcome_modal_is_refused_to_a_stranger(slack):
    signal = handed_off(slack)
    before = len(slack.standin.views_opened())
    slack.press(card.RECORD_OUTCOME, signal.id, AE2)
    slack.deliver()
    assert len(slack.standin.views_opened()) == before
    assert ephemerals_to(slack.standin, AE2)


def test_reassign_starts_a_fresh_clock_for_the_new_ae(slack):
    with freeze_time("2026-11-23 15:00:00"):
        signal = handed_off(slack)
    with freeze_time("2026-11-23 16:00:00"):
        view = slack.press_for_modal(card.REASSIGN, signal.id, AE)
        assert slack.submit(view, AE, {"new_ae": AE, "reason": "x"}).json()["errors"]["new_ae"]
        slack.submit(view, AE, {"new_ae": AE2, "reason": "Territory change"})
        slack.deliver()
    stored = only_signal(slack.services)
    assert stored.ae_id == AE2 and stored.stage == "handed_off" and stored.token == 2
    assert any("Reassigned to you" in str(m["blocks"]) for m in slack.standin.dm_messages(AE2))
    assert any("reassigned" in m["text"] for m in slack.standin.dm_messages(CSM))
    from storage.models import Deadline

    with slack.services.unit_of_work() as session:
        clocks = session.scalars(select(Deadline).order_by(Deadline.id)).all()
    old = [c for c in clocks if c.token == 1]
    new = [c for c in clocks if c.token == 2]
    assert {c.state for c in old} == {"cancelled"}
    assert {c.owner_id for c in new} == {AE2}
    ack = next(c for c in new if c.clock == "ack")
    assert ack.due_at.isoformat() == "2026-11-23T20:00:00+00:00"  # 4 h from the reassignment


def test_unqualified_signal_stays_a_watch_item_until_ticked(slack):
    signal = handed_off(slack, qualification=["budget"])
    assert signal.stage == "qualifying" and signal.revisit_on is not None
    assert slack.standin.dm_messages(AE) == []
    csm_card = slack.standin.dm_messages(CSM)[0]
    assert "Product fit" in str(csm_card["blocks"])  # the missing criteria are shown
    view = slack.press_for_modal(card.REQUALIFY, signal.id, CSM)
    slack.submit(view, CSM, {"qualification": ["budget", "buyer", "fit"]})
    slack.deliver()
    assert only_signal(slack.services).stage == "handed_off"
    assert len(slack.standin.dm_messages(AE)) == 1


# The listeners called directly, as Bolt calls them.


def test_acknowledge_directly(sqlite_services):
    from handlers.card_actions import acknowledge
    from tests.handlers.direct import Acks, hand_off, outbox, press

    signal = hand_off(sqlite_services)
    ack = Acks()
    acknowledge(ack, press(card.ACKNOWLEDGE, signal.id, AE), AE, signal.id, sqlite_services)
    assert ack.once == ((), {})
    assert only_signal(sqlite_services).stage == "acknowledged"
    assert outbox(sqlite_services, "slack.refresh")


def test_log_contact_directly(sqlite_services):
    from handlers.card_actions import log_contact
    from tests.handlers.direct import Acks, hand_off, press

    signal = hand_off(sqlite_services)
    ack = Acks()
    log_contact(ack, press(card.LOG_CONTACT, signal.id, AE), AE, signal.id, sqlite_services)
    assert ack.once == ((), {})
    assert only_signal(sqlite_services).stage == "contacted"


def test_nudge_directly_and_a_refusal_is_answered_where_the_button_was(sqlite_services):
    from handlers.card_actions import nudge
    from tests.handlers.direct import Acks, hand_off, outbox, press

    signal = hand_off(sqlite_services)
    before = len(outbox(sqlite_services))
    nudge(Acks(), press(card.NUDGE, signal.id, MGR), MGR, signal.id, sqlite_services)
    assert events(sqlite_services)[-1] == "nudged"
    assert len(outbox(sqlite_services)) > before
    ack = Acks()
    nudge(ack, press(card.NUDGE, signal.id, AE2), AE2, signal.id, sqlite_services)
    assert ack.once == ((), {})
    [refusal] = [r for r in outbox(sqlite_services, "slack.ephemeral") if r.target == AE2]
    assert refusal.payload["channel"] == "D0TEST"


def test_open_outcome_directly(sqlite_services):
    from handlers.card_actions import open_outcome
    from tests.handlers.direct import hand_off, outbox

    signal = hand_off(sqlite_services)
    context = gate(open_outcome, card.RECORD_OUTCOME, signal.id, AE, sqlite_services)
    assert context["modal_view"]["callback_id"] == "outcome_modal"
    stranger = gate(open_outcome, card.RECORD_OUTCOME, signal.id, AE2, sqlite_services)
    assert "modal_view" not in stranger
    assert [r for r in outbox(sqlite_services, "slack.ephemeral") if r.target == AE2]


def test_open_reassign_directly(sqlite_services):
    from handlers.card_actions import open_reassign
    from tests.handlers.direct import hand_off

    signal = hand_off(sqlite_services)
    context = gate(open_reassign, card.REASSIGN, signal.id, MGR, sqlite_services)
    assert context["modal_view"]["callback_id"] == "reassign_modal"


def test_open_requalify_directly(sqlite_services):
    from handlers.card_actions import open_requalify
    from tests.handlers.direct import hand_off

    signal = hand_off(sqlite_services, qualification=["budget"])  # stays a watch item
    context = gate(open_requalify, card.REQUALIFY, signal.id, CSM, sqlite_services)
    assert context["modal_view"]["callback_id"] == "requalify_modal"
    refused = gate(open_requalify, card.REQUALIFY, signal.id, AE, sqlite_services)
    assert "modal_view" not in refused


def test_a_replayed_nudge_press_nudges_once(slack):
    signal = handed_off(slack)
    before = len(slack.standin.dm_messages(AE))
    for _ in range(3):  # the same signed press, replayed within Slack's five minutes
        response = slack.press(card.NUDGE, signal.id, MGR, action_ts="1796160000.000001")
        assert response.status_code == 200
    slack.deliver()
    assert events(slack.services).count("nudged") == 1
    assert len(slack.standin.dm_messages(AE)) == before + 1
    slack.press(card.NUDGE, signal.id, MGR, action_ts="1796160060.000002")  # a new press
    slack.deliver()
    assert events(slack.services).count("nudged") == 2


def test_a_refusal_reveals_neither_owner_nor_stage(slack):
    assert slack.log_signal().status_code == 200
    slack.deliver()
    signal_id = 1
    slack.press(card.ACKNOWLEDGE, signal_id, AE)
    for action in (card.ACKNOWLEDGE, card.NUDGE, card.LOG_CONTACT):
        slack.press(action, signal_id, AE2)
    slack.press(card.RECORD_OUTCOME, signal_id, AE2)
    slack.deliver()
    said = [e["text"] for e in slack.standin.ephemerals if e.get("user") == AE2]
    assert len(said) == 4
    for text in said:
        assert "not yours" in text and AE not in text and "acknowledged" not in text.lower()


def test_open_change_model_directly(sqlite_services):
    from handlers.card_actions import open_change_model
    from tests.handlers.direct import hand_off

    signal = hand_off(sqlite_services)
    context = gate(open_change_model, card.CHANGE_MODEL, signal.id, CSM, sqlite_services)
    assert context["modal_view"]["callback_id"] == "ownership_modal"
    refused = gate(open_change_model, card.CHANGE_MODEL, signal.id, AE2, sqlite_services)
    assert "modal_view" not in refused


def test_open_extension_and_answer_it_directly(sqlite_services):
    from freezegun import freeze_time

    from handlers.card_actions import approve_extension, decline_extension, open_extension
    from service import extensions
    from storage.models import Extension
    from tests.handlers.direct import Acks, hand_off, outbox, press

    with freeze_time("2026-11-23 15:00:00"):
        signal = hand_off(sqlite_services)
        context = gate(open_extension, card.ASK_EXTENSION, signal.id, AE, sqlite_services)
        assert context["modal_view"]["callback_id"] == "extension_modal"
        assert "modal_view" not in gate(open_extension, card.ASK_EXTENSION, signal.id, AE2,
                                        sqlite_services)
        with sqlite_services.unit_of_work() as session:
            stored = session.get(Signal, signal.id)
            ext = extensions.ask(session, sqlite_services.config, stored, AE, date(2026, 11, 25),
                                 "Travel", sqlite_services.now()).id
        block = f"{card.EXTENSION_BLOCK}{ext}"
        ack = Acks()
        decline_extension(ack, press(card.DECLINE_EXTENSION, signal.id, AE2, block_id=block),
                          AE2, signal.id, sqlite_services)
        assert ack.once == ((), {})
        assert [r for r in outbox(sqlite_services, "slack.ephemeral") if r.target == AE2]
        ack = Acks()
        approve_extension(ack, press(card.APPROVE_EXTENSION, signal.id, MGR, block_id=block),
                          MGR, signal.id, sqlite_services)
        assert ack.once == ((), {})
    with sqlite_services.unit_of_work() as session:
        assert session.get(Extension, ext).state == "approved"
