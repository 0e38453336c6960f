"""App Home: each role sees what it needs; the tab refreshes on open and when a signal moves."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time
from sqlalchemy import select

from blocks import card
from protocol.record import SignalDraft
from service.capture import log_signal
from service.home import render_home
from service.sweep import sweep
from standin import requests as slack_requests
from standin.server import validate_view
from storage.models import Escalation, Signal
from tests.people import ADMIN, AE, AE2, CSM, MGR, VP, roster_config

START = datetime(2024, 6, 3, 14, 0, tzinfo=UTC)  # a Monday afternoon
AE3 = "U0AE00003"  # not on the roster


def open_home(slack, user: str) -> dict:
    response = slack.post(slack_requests.event_callback(
        slack.secret, event=slack_requests.app_home_opened(user)))
    assert response.status_code == 200, response.text
    tally = slack.deliver()
    assert tally.held == 0, tally
    home = slack.standin.published_home(user)
    assert home is not None and home["type"] == "home"
    return home


def text_of(view: dict) -> str:
    return json.dumps(view["blocks"])


def buttons(view: dict, block_id: str) -> list[str]:
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return [e["action_id"] for e in block["elements"]]


def signal_id(slack, account: str) -> int:
    with slack.services.unit_of_work() as session:
        return next(s.id for s in session.scalars(select(Signal)) if s.account.name == account)


def log(slack, frozen, **changes) -> None:
    assert slack.log_signal(**changes).status_code == 200
    slack.deliver()
    frozen.tick(timedelta(minutes=1))


def test_newcomer_gets_a_welcome(slack):
    home = open_home(slack, "U0NEW0001")
    assert "/signal" in text_of(home)
    assert "Welcome" in text_of(home)
    assert not slack.standin.rejections


def test_csm_sees_signals_and_watch_items(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Globex <Corp> & Co")
        log(slack, frozen, account="Initech", qualification=["budget"])
        home = open_home(slack, CSM)
    body = text_of(home)
    assert "Signals you logged" in body and "Your watch items" in body
    assert "Globex &lt;Corp&gt; &amp; Co" in body and "<Corp>" not in body
    assert f"AE <@{AE}>" in body and "Acknowledge by <!date^" in body
    revisit = (START + timedelta(days=30)).date().isoformat()
    assert f"revisit on {revisit}" in body
    watch = [b for b in home["blocks"] if "Initech" in json.dumps(b)]
    assert watch[0]["accessory"]["action_id"] == card.REQUALIFY
    assert "Your hand-off queue" not in body
    assert not slack.standin.rejections


def test_ae_queue_is_ordered_by_nearest_deadline(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Warm Account", urgency="warm")
        log(slack, frozen, account="Hot Account", urgency="hot")
        frozen.tick(timedelta(hours=5))  # the hot acknowledge (4h) is now overdue
        home = open_home(slack, AE)
    body = text_of(home)
    assert "Your hand-off queue" in body
    assert body.index("Hot Account") < body.index("Warm Account")
    hot, warm = signal_id(slack, "Hot Account"), signal_id(slack, "Warm Account")
    assert buttons(home, f"home:ae:{hot}") == [card.ACKNOWLEDGE, card.LOG_CONTACT,
                                               card.RECORD_OUTCOME, card.REASSIGN]
    assert f"home:ae:{warm}" in body
    hot_line = next(b for b in home["blocks"] if "Hot Account" in json.dumps(b))
    assert "*overdue*" in hot_line["text"]["text"]
    warm_line = next(b for b in home["blocks"] if "Warm Account" in json.dumps(b))
    assert "left" in warm_line["text"]["text"] and "<!date^" in warm_line["text"]["text"]
    assert not slack.standin.rejections


def test_ae_watch_items_for_the_account_sync(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Slow Burn", urgency="watch")
        home = open_home(slack, AE)
    body = text_of(home)
    assert "Watch items for your account sync" in body and "Review by <!date^" in body
    assert "Your hand-off queue" not in body
    assert not slack.standin.rejections


def test_manager_sees_an_escalation_with_reassign_and_nudge(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Hot Account", urgency="hot")
        frozen.move_to(START + timedelta(hours=4, minutes=5))
        assert slack.sweep() >= 1
        slack.deliver()
        with slack.services.unit_of_work() as session:
            assert session.scalar(select(Escalation.level)) == 1
        home = open_home(slack, MGR)
    body = text_of(home)
    assert "Your team: breaches and escalations" in body
    assert "Hot Account" in body and "Escalated (level 1)" in body and "*overdue*" in body
    sid = signal_id(slack, "Hot Account")
    assert buttons(home, f"home:mgr:{sid}") == [card.REASSIGN, card.NUDGE]
    assert not slack.standin.rejections


def test_manager_with_a_quiet_team(slack):
    home = open_home(slack, MGR)
    assert "No missed SLAs" in text_of(home)
    assert "Welcome" not in text_of(home)


def test_admin_sees_roster_gaps_and_held_count(slack):
    slack.standin.add_user(AE3, name="Ari AE")
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Gap Account", ae=AE3)
        home = open_home(slack, ADMIN)
        body = text_of(home)
        assert "Roster gaps" in body and f"<@{AE3}>" in body and f"<@{AE2}>" not in body
        assert "nothing held" in body
        slack.standin.fail_next("chat.postMessage", error="channel_not_found")
        log(slack, frozen, account="Held Account", ae=AE)
        assert "1 outbox message held" in text_of(open_home(slack, ADMIN))


def test_acknowledge_on_home_republishes_the_aes_home(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen, account="Hot Account", urgency="hot")
        home = open_home(slack, AE)
        sid = signal_id(slack, "Hot Account")
        assert card.ACKNOWLEDGE in buttons(home, f"home:ae:{sid}")
        pressed = slack.post(slack_requests.block_actions(
            slack.secret, user_id=AE, action_id=card.ACKNOWLEDGE, value=str(sid), view=home))
        assert pressed.status_code == 200
        slack.deliver()
        slack.deliver()
    after = slack.standin.published_home(AE)
    assert after["hash"] != home["hash"]
    assert card.ACKNOWLEDGE not in buttons(after, f"home:ae:{sid}")
    assert "Acknowledged" in text_of(after)
    assert "Contact the customer by" in text_of(after)
    csm_home = slack.standin.published_home(CSM)
    assert csm_home is not None and "Acknowledged" in text_of(csm_home)
    assert not slack.standin.rejections


def draft(account: str, ae: str, urgency: str = "hot", qualified: bool = True) -> SignalDraft:
    answers = {"budget": True, "buyer": True, "timeline": qualified}
    return SignalDraft(account=account, category="product", kind="seat_utilisation",
                       buyer_name="Jamie Reyes", timeline="Q3", note="note", urgency=urgency,
                       ae_id=ae, detail="<!channel> " + "x" * 280, answers=answers)


def test_a_busy_person_gets_at_most_100_valid_blocks(services):
    config = roster_config(managers={AE: ADMIN, ADMIN: VP}, admins=(ADMIN,))
    with services.unit_of_work() as session:
        for i in range(12):
            log_signal(session, config, draft(f"Own {i}", ADMIN), ADMIN, START)
            log_signal(session, config, draft(f"Team {i}", AE), ADMIN, START)
            log_signal(session, config, draft(f"Watch {i}", ADMIN, "watch"), ADMIN, START)
            log_signal(session, config, draft(f"Maybe {i}", ADMIN, qualified=False), ADMIN,
                       START)
    later = START + timedelta(hours=5)
    with services.unit_of_work() as session:
        assert sweep(session, config, later) > 0
    with services.unit_of_work() as session:
        view = render_home(session, config, ADMIN, later)
    assert len(view["blocks"]) <= 100
    assert validate_view(view) == []
    body = text_of(view)
    for title in ("Signals you logged", "Your watch items", "Your hand-off queue",
                  "Watch items for your account sync", "Your team: breaches", "Admin"):
        assert title in body
    assert "more: see your DMs" in body
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body


def test_home_opened_directly_queues_one_home_view(sqlite_services):
    from handlers.home import home_opened
    from tests.handlers.direct import outbox

    home_opened(slack_requests.app_home_opened(CSM, tab="messages"), sqlite_services)
    assert outbox(sqlite_services) == []  # the Messages tab is not the Home tab
    home_opened(slack_requests.app_home_opened(CSM), sqlite_services)
    home_opened(slack_requests.app_home_opened(CSM), sqlite_services)
    [row] = outbox(sqlite_services)
    assert (row.kind, row.target) == ("slack.home", CSM)
    assert sqlite_services.delivery_due.is_set()


def test_managers_admins_and_aes_see_their_charts(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen)  # Globex, to AE (on MGR's team)
        log(slack, frozen, account="Initech")
        slack.press(card.ACKNOWLEDGE, signal_id(slack, "Globex Corp"), AE)
        slack.deliver()
    with freeze_time(START + timedelta(days=7)):  # the next week: last week is whole
        homes = {user: open_home(slack, user) for user in (MGR, ADMIN, AE, CSM)}
    titles = {user: [b["title"] for b in home["blocks"] if b["type"] == "data_visualization"]
              for user, home in homes.items()}
    assert titles[MGR] == ["Your team's SLA attainment, last 8 weeks (%)",
                           "Your team's signals last week"]
    assert titles[ADMIN] == ["Everyone's SLA attainment, last 8 weeks (%)",
                             "Everyone's signals last week"]
    assert titles[AE] == ["Your SLA attainment, last 8 weeks (%)"]
    assert titles[CSM] == []
    trend = next(b for b in homes[AE]["blocks"] if b["type"] == "data_visualization")
    assert trend["chart"]["axis_config"]["categories"] == ["3 Jun"]
    assert [s["data"][0]["value"] for s in trend["chart"]["series"]] == [50, 0]
    words = text_of(homes[AE])
    assert "Your SLA attainment, last 8 weeks (%): Acknowledged: 3 Jun 50%; Contacted: 3 Jun 0%" \
        in words
    for home in homes.values():
        assert validate_view(home) == []
    assert not slack.standin.rejections


def test_a_workspace_refusing_charts_gets_the_home_without_them(slack):
    with freeze_time(START) as frozen:
        log(slack, frozen)
    slack.standin.refuse_block_types("data_visualization")
    with freeze_time(START + timedelta(days=7)):
        home = open_home(slack, MGR)  # held == 0: published, on the second try
    assert not [b for b in home["blocks"] if b["type"] == "data_visualization"]
    assert "Your team's SLA attainment, last 8 weeks (%): Acknowledged: 3 Jun 0%" in text_of(home)
    [refused] = slack.standin.rejections
    assert refused.method == "views.publish" and "data_visualization" in str(refused.errors)
