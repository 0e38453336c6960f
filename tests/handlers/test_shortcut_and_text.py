"""The message shortcut, user text shown exactly as typed, Slack's limits, routing by size."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from bot.config import Routing
from standin import requests as slack_requests
from storage.models import Signal
from tests.people import AE, CSM
from tests.support import VALID_SIGNAL, wait_for


def stored(services) -> list[Signal]:
    with services.unit_of_work() as session:
        return list(session.scalars(select(Signal)))


def shortcut(slack) -> dict:
    """Press the message shortcut; the modal as Slack shows it once its link is in."""
    before = len(slack.standin.views_opened())
    slack.post(
        slack_requests.message_shortcut(
            slack.secret,
            user_id=CSM,
            callback_id="log_signal_from_message",
            channel_id="C0SHARED",
            message_ts="1795000000.000100",
            message_text="We &amp; ops need 6 more seats by Q3",
        )
    )
    view = wait_for(lambda: slack.standin.views_opened()[before:])[-1]
    return wait_for(lambda: slack.standin.calls_to("views.update")
                    and slack.standin.view(view["id"]), timeout=10)


def test_message_shortcut_opens_the_modal_with_the_message_and_keeps_its_link(slack):
    view = shortcut(slack)
    note = next(b for b in view["blocks"] if b.get("block_id") == "note")
    assert note["element"]["initial_value"] == "We & ops need 6 more seats by Q3"
    values = {**VALID_SIGNAL, "note": note["element"]["initial_value"]}
    slack.submit(view, CSM, values)
    [signal] = stored(slack.services)
    assert signal.source == "shortcut"
    assert signal.message_link.startswith("https://") and "C0SHARED" in signal.message_link
    slack.deliver()
    assert "source message" in str(slack.standin.dm_messages(AE)[0]["blocks"])


def test_a_slow_permalink_does_not_outlive_the_trigger(slack):
    """Slack refuses a trigger after 3 s; chat.getPermalink may take longer than that."""
    slack.standin.fail_next("chat.getPermalink", delay=3.5)
    view = shortcut(slack)
    assert not [r for r in slack.standin.rejections if r.method == "views.open"]
    slack.submit(view, CSM, {**VALID_SIGNAL, "note": "six more seats"})
    [signal] = stored(slack.services)
    assert "C0SHARED" in (signal.message_link or "")


def test_mrkdwn_control_characters_ping_no_one_and_survive_at_full_length(slack):
    unit = "<!channel> <@U0BOSS001> & <https://evil.example|click> :tada: 🎉 "
    note = (unit * 100)[:3000]
    slack.log_signal(note=note, buyer_name="<!here> Jamie & co", account="Acme & <Sons>")
    [signal] = stored(slack.services)
    assert signal.note == note and signal.buyer_name == "<!here> Jamie & co"
    slack.deliver()
    assert slack.standin.rejections == []
    [ae_card] = slack.standin.dm_messages(AE)
    shown = "".join(
        b["text"]["text"] for b in ae_card["blocks"] if b["type"] == "section" and "text" in b
    )
    assert "<!channel>" not in shown and "<@U0BOSS001>" not in shown and "<!here>" not in shown
    assert "&lt;!channel&gt;" in shown and "Acme &amp; &lt;Sons&gt;" in shown
    context = "".join(
        b["text"]["text"].split("\n", 1)[1]
        for b in ae_card["blocks"]
        if b["type"] == "section" and b.get("text", {}).get("text", "").startswith("*Context*")
    )
    unescaped = context.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert unescaped == note  # every character, in order, across as many sections as it takes


def test_too_long_fields_are_refused_next_to_the_field(slack):
    view = slack.open_signal_modal(CSM)
    body = slack.submit(view, CSM, {**VALID_SIGNAL, "note": "x" * 3001}).json()
    assert body["response_action"] == "errors" and "3000" in body["errors"]["note"]
    assert stored(slack.services) == []


def test_missing_type_and_ae_are_refused(slack):
    view = slack.open_signal_modal(CSM)
    body = slack.submit(view, CSM, {**VALID_SIGNAL, "signal_type": None, "ae": None}).json()
    assert set(body["errors"]) == {"signal_type", "ae"}


def test_cs_led_deals_page_no_ae_and_joint_deals_both_get_the_card(slack):
    slack.services.config = dataclasses.replace(
        slack.services.config,
        routing=Routing(enabled=True, cs_led_below=10000, joint_at_or_above=150000),
    )
    slack.log_signal(est_arr="5000", account="Small Co")
    slack.log_signal(est_arr="200000", account="Big Co")
    slack.deliver()
    by_account = {s.account.name: s for s in stored(slack.services)}
    assert by_account["Small Co"].ownership == "cs_led"
    assert by_account["Big Co"].ownership == "joint"
    ae_cards = [m for m in slack.standin.dm_messages(AE)]
    assert len(ae_cards) == 1 and "Big Co" in ae_cards[0]["text"]
    csm_cards = str(slack.standin.dm_messages(CSM))
    assert "Record outcome" in csm_cards  # the CSM owns the close on the small deal


def test_unreadable_numbers_and_dates_are_refused_next_to_the_field(slack):
    view = slack.open_signal_modal(CSM)
    body = slack.submit(view, CSM, {**VALID_SIGNAL, "est_arr": "lots", "timeline_date": "soon"})
    assert body.json()["errors"] == {"est_arr": "Enter a number, e.g. 25000.",
                                     "timeline_date": "That is not a date."}
    assert stored(slack.services) == []
