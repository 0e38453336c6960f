"""A deal can outgrow its model: A -> B -> C from the card, through signed Slack requests."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from freezegun import freeze_time
from sqlalchemy import select

from blocks import card
from bot.config import Routing
from service.digest import week_bounds, week_figures
from storage.models import Deadline, Signal, SignalEvent
from tests.people import AE, AE2, CSM
from tests.support import validate_message_blocks


def routed(slack) -> None:
    slack.services.config = dataclasses.replace(
        slack.services.config, routing=Routing(enabled=True, cs_led_below=10000))


def only_signal(services) -> Signal:
    with services.unit_of_work() as session:
        return session.scalars(select(Signal)).one()


def changes(services) -> list[dict]:
    with services.unit_of_work() as session:
        return [e.detail for e in session.scalars(select(SignalEvent).where(
            SignalEvent.kind == "ownership_changed").order_by(SignalEvent.id))]


def test_a_cs_led_deal_moves_to_the_ae_then_to_a_joint_motion(slack):
    routed(slack)
    with freeze_time("2026-11-23 15:00:00"):
        slack.log_signal(est_arr="5000", account="Small Co")
        slack.deliver()
        signal = only_signal(slack.services)
        assert signal.ownership == "cs_led" and slack.standin.dm_messages(AE) == []
        csm_card = slack.standin.dm_messages(CSM)[-1]
        assert "Change ownership model" in str(csm_card["blocks"])
    with freeze_time("2026-11-23 16:00:00"):
        view = slack.press_for_modal(card.CHANGE_MODEL, signal.id, CSM)
        validate_message_blocks(view["blocks"])
        options = [o["value"] for o in view["blocks"][1]["element"]["options"]]
        assert options == ["ae", "joint"]
        refused = slack.submit(view, CSM, {"model": "ae", "ae": AE2}).json()
        assert refused["errors"] == {"reason": "Say why, so the AE and the CSM know."}
        ok = slack.submit(view, CSM, {"model": "ae", "ae": AE2,
                                      "reason": "Seat add became a 3-team rollout"})
        assert ok.status_code == 200 and not ok.content
        slack.deliver()
    moved = only_signal(slack.services)
    assert (moved.ownership, moved.ae_id, moved.stage, moved.token) == ("ae", AE2, "handed_off", 2)
    ae_card = slack.standin.dm_messages(AE2)[-1]
    assert "it is yours to close" in str(ae_card["blocks"])
    assert "Acknowledge" in str(ae_card["blocks"])
    with slack.services.unit_of_work() as session:
        clocks = session.scalars(select(Deadline).where(Deadline.token == 2)).all()
    assert {(c.clock, c.owner_id) for c in clocks} == {("ack", AE2), ("contact", AE2)}
    with freeze_time("2026-11-23 17:00:00"):
        view = slack.press_for_modal(card.CHANGE_MODEL, signal.id, AE2)
        assert [o["value"] for o in view["blocks"][1]["element"]["options"]] == ["joint"]
        slack.submit(view, AE2, {"model": "joint", "ae": AE2, "reason": "Needs both of us"})
        slack.deliver()
    joint = only_signal(slack.services)
    assert (joint.ownership, joint.ae_id, joint.token) == ("joint", AE2, 2)  # same clocks
    co_owner = slack.standin.dm_messages(CSM)[-1]
    assert "co-own" in str(co_owner["blocks"]) and "Record outcome" in str(co_owner["blocks"])
    assert "Change ownership model" not in str(co_owner["blocks"])  # C is the broadest
    assert [(d["from"], d["to"]) for d in changes(slack.services)] == [("cs_led", "ae"),
                                                                       ("ae", "joint")]
    with slack.services.unit_of_work() as session:
        now = slack.services.now()
        start, end = week_bounds(now, slack.services.config, joint.created_at.date())
        week = week_figures(session, start, end, now)
    assert week.upgrades == {"cs_led>ae": 1, "ae>joint": 1}


def test_only_the_csm_or_the_acting_ae_may_change_it(slack):
    with freeze_time("2026-11-23 15:00:00"):
        slack.log_signal()
        slack.deliver()
        signal = only_signal(slack.services)
        before = len(slack.standin.views_opened())
        slack.press(card.CHANGE_MODEL, signal.id, AE2)
        slack.deliver()
    assert len(slack.standin.views_opened()) == before
    ephemeral = [c.params["text"] for c in slack.standin.calls_to("chat.postEphemeral")
                 if c.params.get("user") == AE2]
    assert ephemeral and "not yours" in ephemeral[-1]
    assert only_signal(slack.services).ownership == "ae"


def test_the_digest_shows_upgrades(slack):
    from blocks.digest import digest_text
    from service.digest import build_digest

    routed(slack)
    with freeze_time("2026-11-23 15:00:00"):
        slack.log_signal(est_arr="5000")
        slack.deliver()
        signal = only_signal(slack.services)
        view = slack.press_for_modal(card.CHANGE_MODEL, signal.id, CSM)
        slack.submit(view, CSM, {"model": "joint", "ae": AE, "reason": "Grew"})
    with freeze_time("2026-11-23 15:00:00") as clock:
        clock.tick(timedelta(days=7))
        text = digest_text(build_digest(slack.services))
    assert "Ownership upgrades" in text and "CS-led → joint 1" in text
