"""`/signal help | list | admin …` and the pre-filled modal."""

from __future__ import annotations

from sqlalchemy import select

from blocks import card
from storage.models import Person, SignalEvent
from tests.people import ADMIN, AE, AE2, CSM, MGR, VP
from tests.support import wait_for


def reply(response) -> dict:
    assert response.status_code == 200
    return response.json()


def test_help_is_ephemeral(slack):
    body = reply(slack.command(CSM, "help"))
    assert body["response_type"] == "ephemeral" and "/signal list" in body["text"]


def test_list_shows_the_callers_open_signals(slack):
    assert "no open signals" in reply(slack.command(CSM, "list"))["text"]
    slack.log_signal(account="Globex <Corp>")
    body = reply(slack.command(CSM, "list"))
    assert "Globex &lt;Corp&gt;" in str(body["blocks"])
    assert "(1)" in body["text"]
    assert reply(slack.command(AE, "list"))["text"].startswith("Your open signals")


def test_account_and_urgency_prefill_the_modal_and_remember_the_ae(slack):
    view = slack.open_signal_modal(CSM, "Initech hot")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["account"]["element"]["initial_value"] == "Initech"
    assert blocks["urgency"]["element"]["initial_option"]["value"] == "hot"
    assert "initial_user" not in blocks["ae"]["element"]
    slack.log_signal(account="Initech", ae=AE2)
    view = slack.open_signal_modal(CSM, "initech")
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["ae"]["element"]["initial_user"] == AE2  # the second signal pre-fills the AE


def test_admin_changes_the_roster_and_escalations_follow(slack):
    refused = reply(slack.command(CSM, f"admin manager <@{AE}|alex> <@{VP}|val>"))
    assert "Only the signalbot admins" in refused["text"]
    done = reply(slack.command(ADMIN, f"admin manager <@{AE}|alex> <@{VP}|val>"))
    assert f"<@{AE}> now reports to <@{VP}> (was <@{MGR}>)" in done["text"]
    show = reply(slack.command(ADMIN, "admin show"))
    assert f"<@{AE}> → <@{VP}>" in show["text"]
    with slack.services.unit_of_work() as session:
        assert session.get(Person, AE).manager_id == VP
        event = session.scalars(
            select(SignalEvent).where(SignalEvent.kind == "roster_changed")
        ).one()
        assert event.actor_id == ADMIN and event.detail == {"person": AE, "from": MGR, "to": VP}


def test_admin_cannot_make_a_loop(slack):
    body = reply(slack.command(ADMIN, f"admin manager <@{VP}> <@{AE}>"))
    assert "loop" in body["text"]


def test_the_new_manager_may_act_for_the_ae(slack):
    slack.command(ADMIN, f"admin manager <@{AE}> <@{AE2}>")
    slack.log_signal()
    from tests.handlers.test_card_actions import only_signal

    signal = only_signal(slack.services)
    slack.press(card.ACKNOWLEDGE, signal.id, AE2)
    assert only_signal(slack.services).stage == "acknowledged"


# The listeners called directly, as Bolt calls them.


def test_signal_command_answers_words_and_leaves_the_modal_for_after_the_ack(sqlite_services):
    from handlers.signal_command import signal_command
    from tests.handlers.direct import Acks, command

    ack, context = Acks(), {}
    signal_command(ack, command(CSM, "help"), context, sqlite_services)
    [answer], _ = ack.once
    assert answer["response_type"] == "ephemeral" and "/signal list" in answer["text"]
    ack = Acks()
    signal_command(ack, command(CSM, "list"), context, sqlite_services)
    assert "no open signals" in ack.once[0][0]["text"]
    ack = Acks()
    signal_command(ack, command(MGR, "digest"), context, sqlite_services)
    assert ack.once == ((), {}) and context["digest_preview_for"] == MGR  # sent after the ack
    assert "modal_for" not in context
    ack = Acks()
    signal_command(ack, command(CSM, "Initech &amp; Co hot"), context, sqlite_services)
    assert ack.once == ((), {}) and context["modal_for"] == "Initech & Co hot"


def test_open_capture_modal_prefills_account_and_urgency(sqlite_services, standin):
    from bot.delivery import make_client
    from handlers.signal_command import open_capture_modal
    from tests.handlers.direct import command

    client = make_client("xoxb-test", standin.base_url)
    open_capture_modal(client, command(CSM), {}, sqlite_services)  # nothing asked: nothing opens
    assert standin.views_opened() == []
    open_capture_modal(client, command(CSM, "Initech hot"), {"modal_for": "Initech hot"},
                       sqlite_services)
    [view] = standin.views_opened()
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["account"]["element"]["initial_value"] == "Initech"
    assert blocks["urgency"]["element"]["initial_option"]["value"] == "hot"
    assert not standin.rejections


def test_help_and_the_modal_state_the_windows_the_config_sets(sqlite_services, standin):
    from dataclasses import replace
    from datetime import timedelta

    from bot.delivery import make_client
    from handlers.signal_command import open_capture_modal, signal_command
    from protocol.policy import SlaWindow
    from tests.handlers.direct import Acks, command

    windows = {**sqlite_services.config.sla,
               "hot": SlaWindow(ack=timedelta(hours=2), contact=timedelta(hours=8))}
    sqlite_services.config = replace(sqlite_services.config, sla=windows)
    ack = Acks()
    signal_command(ack, command(CSM, "help"), {}, sqlite_services)
    assert "Hot: the AE acknowledges within 2h, contacts the customer within 8h." in (
        ack.once[0][0]["text"])
    client = make_client("xoxb-test", standin.base_url)
    open_capture_modal(client, command(CSM), {"modal_for": ""}, sqlite_services)
    [view] = standin.views_opened()
    urgency = next(b for b in view["blocks"] if b.get("block_id") == "urgency")
    assert urgency["element"]["options"][0]["text"]["text"] == "Hot (contact within 8h)"


def test_only_admins_see_the_roster(slack):
    refused = reply(slack.command(CSM, "admin show"))
    assert "Only the signalbot admins" in refused["text"] and MGR not in refused["text"]
    assert f"<@{MGR}>" in reply(slack.command(ADMIN, "admin show"))["text"]


def test_admin_show_lists_the_teams_in_order(slack):
    from dataclasses import replace

    from protocol.policy import Team

    slack.services.config = replace(slack.services.config, teams=(
        Team("Enterprise <EMEA>", (AE,), "S0ENTAES1"), Team("SMB", (AE2,))))
    text = reply(slack.command(ADMIN, "admin show"))["text"]
    teams = text[text.index("*Teams*"):]
    assert f"• *Enterprise &lt;EMEA&gt;*: <@{AE}> (user group <!subteam^S0ENTAES1>)" in teams
    assert teams.index("Enterprise") < teams.index(f"• *SMB*: <@{AE2}>")
    assert "*SLA policies* (first match wins; the default is last)\n1. *default* — every " \
        "hand-off — hot ack 4h/contact 1d; warm ack 1d/contact 3d; watch review 7d" in text


def test_an_expired_trigger_asks_the_person_to_run_signal_again(slack):
    import time

    from standin import views

    stale = views.new_trigger_id(issued_at=time.time() - 5)  # Slack's trigger lives 3 s
    response = slack.command(CSM, "Initech hot", trigger_id=stale,
                             response_url=slack.standin.response_url("late"))
    assert response.status_code == 200
    [(key, body)] = wait_for(lambda: slack.standin.responses)
    assert key == "late" and body["response_type"] == "ephemeral"
    assert "run `/signal` again" in body["text"]
    assert slack.standin.views_opened() == []


def test_a_late_modal_opens_with_what_was_typed_without_the_database(sqlite_services, standin):
    import time

    from sqlalchemy import event

    from bot.delivery import make_client
    from handlers.signal_command import PREFILL_BUDGET, open_capture_modal
    from tests.handlers.direct import command

    statements = []
    event.listen(sqlite_services.engine, "before_cursor_execute",
                 lambda *args: statements.append(args[2]))
    client = make_client("xoxb-test", standin.base_url)
    context = {"modal_for": "Initech hot", "asked_at": time.monotonic() - PREFILL_BUDGET - 0.5}
    open_capture_modal(client, command(CSM, "Initech hot"), context, sqlite_services)
    [view] = standin.views_opened()
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["account"]["element"]["initial_value"] == "Initech"
    assert blocks["urgency"]["element"]["initial_option"]["value"] == "hot"
    assert statements == []
