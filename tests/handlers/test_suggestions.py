"""The suggestion DM's buttons, the dismiss modal, and the `/signal` account type-ahead."""

from __future__ import annotations

import json
import time

from freezegun import freeze_time
from sqlalchemy import select

from blocks import suggestion as dm
from service.triggers import periodic
from standin import requests as slack_requests
from storage.models import Account, Signal, Trigger
from tests.handlers.direct import gate
from tests.people import ADMIN, AE, CSM
from tests.support import VALID_SIGNAL, wait_for
from tests.test_triggers_flow import GLOBEX, cycles, feed

NOW = "2026-11-05 15:00:00"


def suggested(slack) -> int:
    """Globex at 85% of its API limit: one trigger, its DM delivered to the CSM."""
    feed(slack.services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
    periodic(slack.services)
    slack.deliver()
    with slack.services.unit_of_work() as session:
        return session.scalar(select(Trigger.id))


def trigger(slack, trigger_id: int) -> Trigger:
    with slack.services.unit_of_work() as session:
        return session.get(Trigger, trigger_id)


def posted_suggestion(slack, trigger_id: int) -> dict:
    """The suggestion DM as the CSM sees it now (updated in place once handled)."""
    [message] = [m for m in slack.standin.dm_messages(CSM)
                 if m["text"].startswith("Suggested expansion signal")]
    return message


def settled_as(slack, trigger_id: int) -> str:
    """The line a handled suggestion ends with; its buttons are gone."""
    message = posted_suggestion(slack, trigger_id)
    assert not [b for b in message["blocks"] if b["type"] == "actions"], message["blocks"]
    return message["blocks"][-1]["elements"][0]["text"]


def block(view, block_id):
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


@freeze_time(NOW)
def test_log_signal_opens_the_modal_filled_in_and_records_the_trigger(slack):
    trigger_id = suggested(slack)
    view = slack.press_for_modal("trigger_log_signal", trigger_id, CSM)
    assert not slack.standin.rejections  # the stand-in validated the view
    account = block(view, "account")["element"]
    assert account["type"] == "external_select" and account["min_query_length"] == 1
    assert account["initial_option"]["value"] == "c:0015g00000Globex"
    assert account["initial_option"]["text"]["text"] == "Globex Corp"
    assert block(view, "ae")["element"]["initial_user"] == AE
    assert block(view, "signal_type")["element"]["initial_option"]["value"] == "product:api_volume"
    assert block(view, "detail")["element"]["initial_value"].startswith("api_calls at 85% of its")
    assert block(view, "urgency")["element"]["initial_option"]["value"] == "hot"
    assert "initial_value" not in block(view, "buyer_name")["element"]  # the CSM completes these
    assert json.loads(view["private_metadata"]) == {"source": f"trigger:{trigger_id}"}
    answer = slack.submit(
        view,
        CSM,
        {
            "account": "c:0015g00000Globex",
            "signal_type": "product:api_volume",
            "detail": block(view, "detail")["element"]["initial_value"],
            "urgency": "hot",
            "ae": AE,
            "buyer_name": "Jamie Reyes",
            "timeline": "Q1, before the renewal",
            "note": "They hit the API limit in December.",
            "qualification": ["budget", "buyer"],
        },
    )
    assert answer.status_code == 200 and "errors" not in answer.text
    with slack.services.unit_of_work() as session:
        [signal] = session.scalars(select(Signal))
        assert (signal.source, signal.account.name, signal.stage) == (
            f"trigger:{trigger_id}",
            "Globex Corp",
            "qualifying",
        )
        assert session.scalar(select(Account.id).where(Account.name != "Globex Corp")) is None
        row = session.get(Trigger, trigger_id)
        assert (row.state, row.signal_id, row.resolved_by) == ("acted", signal.id, CSM)
    slack.deliver()
    card = slack.standin.dm_messages(CSM)[-1]
    assert f"from a product-data trigger (#{trigger_id})" in str(card["blocks"])
    assert settled_as(slack, trigger_id) == \
        f":white_check_mark: Logged as signal #{signal.id} by <@{CSM}>."
    assert slack.standin.dm_messages(AE) == []  # not qualified yet: nothing goes to the AE
    # a second press says it is done, and opens nothing
    before = len(slack.standin.views_opened())
    slack.press("trigger_log_signal", trigger_id, CSM)
    slack.deliver()
    assert "already logged as signal" in slack.standin.ephemerals[-1]["text"]
    assert len(slack.standin.views_opened()) == before


@freeze_time(NOW)
def test_snooze_puts_it_away_for_30_days(slack):
    trigger_id = suggested(slack)
    assert slack.press("trigger_snooze", trigger_id, CSM).status_code == 200
    row = trigger(slack, trigger_id)
    assert row.state == "snoozed" and row.snoozed_until.date().isoformat() == "2026-12-05"
    slack.deliver()
    [note] = slack.standin.ephemerals
    assert "comes back on 2026-12-05" in note["text"] and note["user"] == CSM
    assert settled_as(slack, trigger_id).startswith(f":zzz: Snoozed by <@{CSM}> until 2026-12-05")
    assert not slack.standin.rejections


@freeze_time(NOW)
def test_not_expansion_asks_why_in_a_small_modal(slack):
    trigger_id = suggested(slack)
    view = slack.press_for_modal("trigger_not_expansion", trigger_id, CSM)
    assert view["callback_id"] == "trigger_dismiss_modal" and not slack.standin.rejections
    empty = slack.submit(view, CSM, {"reason": "  "}).json()
    assert empty["response_action"] == "errors" and "reason" in empty["errors"]
    assert trigger(slack, trigger_id).state == "open"
    assert slack.submit(view, CSM, {"reason": "Seasonal peak, not growth"}).status_code == 200
    row = trigger(slack, trigger_id)
    assert (row.state, row.reason, row.resolved_by) == (
        "dismissed",
        "Seasonal peak, not growth",
        CSM,
    )
    slack.deliver()
    assert settled_as(slack, trigger_id).startswith(":no_entry_sign: Marked as not expansion by")


@freeze_time(NOW)
def test_only_the_csm_or_an_admin_may_act_on_it(slack):
    trigger_id = suggested(slack)
    slack.press("trigger_snooze", trigger_id, AE)
    assert trigger(slack, trigger_id).state == "open"
    slack.deliver()
    assert f"This suggestion is for <@{CSM}>" in slack.standin.ephemerals[-1]["text"]
    slack.press("trigger_snooze", trigger_id, ADMIN)
    assert trigger(slack, trigger_id).state == "snoozed"


def options(slack, typed: str) -> list[tuple[str, str]]:
    body, headers = slack_requests.block_suggestion(
        slack.secret, user_id=CSM, action_id="value", block_id="account", value=typed
    )
    answer = slack.post((body, headers))
    assert answer.status_code == 200
    return [(o["text"]["text"], o["value"]) for o in answer.json()["options"]]


def test_the_account_field_becomes_a_type_ahead_over_the_registry(slack):
    view = slack.open_signal_modal(CSM)
    assert block(view, "account")["element"]["type"] == "plain_text_input"  # empty registry
    feed(
        slack.services,
        GLOBEX,
        *[
            {"account": f"crm-{n}", "type": "account", "name": f"Account {n:04d}"}
            for n in range(999)
        ],
    )
    feed(slack.services, {"account": "crm-x", "type": "account", "name": "50% Off_Store"})
    view = slack.open_signal_modal(CSM)
    element = block(view, "account")["element"]
    assert element["type"] == "external_select" and block(view, "account")["dispatch_action"]
    assert not slack.standin.rejections
    found = options(slack, "glob")  # its speed over 10k accounts: bench/ingest_bench.py
    assert found == [("Globex Corp", "c:0015g00000Globex"), ("New account: glob", "n:glob")]
    assert options(slack, "globex corp") == [("Globex Corp", "c:0015g00000Globex")]
    assert options(slack, "0015g") == [
        ("Globex Corp", "c:0015g00000Globex"),
        ("New account: 0015g", "n:0015g"),
    ]
    assert len(options(slack, "account 0")) == 21  # 20 matches, and the new-account choice
    assert options(slack, "50%")[0] == ("50% Off_Store", "c:crm-x")  # no LIKE wildcards
    assert options(slack, "_")[0] == ("50% Off_Store", "c:crm-x")


def test_a_new_account_can_still_be_typed(slack):
    feed(slack.services, GLOBEX)
    view = slack.open_signal_modal(CSM)
    answer = slack.log_signal(CSM, account="n:Hooli XYZ")
    assert answer.status_code == 200 and "errors" not in answer.text
    assert view["callback_id"] == "signal_modal"
    with slack.services.unit_of_work() as session:
        assert session.scalar(select(Signal)).account.name == "Hooli XYZ"


def pick(slack, view, value: str, text: str):
    return slack.post(
        slack_requests.block_actions(
            slack.secret,
            user_id=CSM,
            action_id="value",
            block_id="account",
            view=view,
            selected_option={"text": {"type": "plain_text", "text": text}, "value": value},
            action_type="external_select",
        )
    )


def test_picking_an_account_fills_in_its_ae(slack):
    """As a person sees it: Slack keeps an unchanged input across views.update, so the AE
    must arrive in a new input while what was typed elsewhere stays."""
    feed(slack.services, GLOBEX)
    view = slack.open_signal_modal(CSM)
    assert "initial_user" not in block(view, "ae")["element"]
    slack.standin.type_into(view["id"], {"buyer_name": "Jamie Reyes", "timeline": "Q3"})
    assert pick(slack, view, "c:0015g00000Globex", "Globex Corp").status_code == 200
    wait_for(lambda: slack.standin.calls_to("views.update"))
    updated = slack.standin.view(view["id"])
    shown = slack.standin.shown(view["id"])
    assert [v for k, v in shown.items() if k.split(".")[0] == "ae"] == [AE]
    assert shown["buyer_name"] == "Jamie Reyes" and shown["timeline"] == "Q3"
    assert updated["callback_id"] == "signal_modal" and not slack.standin.rejections
    assert updated["private_metadata"] == view["private_metadata"]
    assert [c for c in slack.standin.calls_to("views.update")][0].params["hash"] == view["hash"]
    typed = {k: v for k, v in VALID_SIGNAL.items() if k not in ("ae", "buyer_name", "timeline")}
    slack.submit(updated, CSM, {**shown, **typed})
    with slack.services.unit_of_work() as session:
        assert session.scalar(select(Signal.ae_id)) == AE
    pick(slack, updated, "n:Brand New Co", "New account: Brand New Co")  # no AE known
    time.sleep(0.3)
    assert len(slack.standin.calls_to("views.update")) == 1


# The listeners called directly, as Bolt calls them.


def _suggested(services) -> int:
    feed(services, GLOBEX, *cycles([70_000, 77_000, 84_700]))
    periodic(services)
    with services.unit_of_work() as session:
        return session.scalar(select(Trigger.id))


def _state(services, trigger_id: int) -> str:
    with services.unit_of_work() as session:
        return session.get(Trigger, trigger_id).state


@freeze_time(NOW)
def test_open_log_signal_directly(sqlite_services):
    from handlers.suggestions import open_log_signal

    trigger_id = _suggested(sqlite_services)
    context = gate(open_log_signal, "trigger_log_signal", trigger_id, CSM, sqlite_services)
    view = context["modal_view"]
    assert view["callback_id"] == "signal_modal"
    assert block(view, "ae")["element"]["initial_user"] == AE
    refused = gate(open_log_signal, "trigger_log_signal", trigger_id, AE, sqlite_services)
    assert "modal_view" not in refused


@freeze_time(NOW)
def test_open_not_expansion_directly(sqlite_services):
    from handlers.suggestions import open_not_expansion

    trigger_id = _suggested(sqlite_services)
    context = gate(open_not_expansion, "trigger_not_expansion", trigger_id, CSM,
                    sqlite_services)
    assert context["modal_view"]["callback_id"] == "trigger_dismiss_modal"


@freeze_time(NOW)
def test_snooze_suggestion_directly(sqlite_services):
    from handlers.suggestions import snooze_suggestion
    from tests.handlers.direct import Acks, outbox, press

    trigger_id = _suggested(sqlite_services)
    ack = Acks()
    body = press("trigger_snooze", trigger_id, CSM)
    snooze_suggestion(ack, body, CSM, trigger_id, sqlite_services)
    assert ack.once == ((), {})
    assert _state(sqlite_services, trigger_id) == "snoozed"
    [note] = outbox(sqlite_services, "slack.ephemeral")
    assert "comes back on 2026-12-05" in note.payload["text"]


@freeze_time(NOW)
def test_submit_dismissal_directly(sqlite_services):
    from handlers.suggestions import submit_dismissal
    from tests.handlers.direct import Acks, submission

    trigger_id = _suggested(sqlite_services)
    with sqlite_services.unit_of_work() as session:
        row = session.get(Trigger, trigger_id)
        view = {**dm.dismiss_modal(row.id, row.account.name, row.kind), "id": "V0DISMISS1"}
    ack = Acks()
    submit_dismissal(ack, submission(view, CSM, {"reason": " "})["view"], CSM, sqlite_services)
    assert ack.once[1]["response_action"] == "errors"
    ack = Acks()
    body = submission(view, CSM, {"reason": "Seasonal peak"})
    submit_dismissal(ack, body["view"], CSM, sqlite_services)
    assert ack.once == ((), {})
    assert _state(sqlite_services, trigger_id) == "dismissed"


def test_account_options_directly(sqlite_services):
    from handlers.suggestions import account_options
    from tests.handlers.direct import Acks, body_of
    from tests.people import SECRET

    feed(sqlite_services, GLOBEX)
    ack = Acks()
    body = body_of(slack_requests.block_suggestion(
        SECRET, user_id=CSM, action_id="value", block_id="account", value="glob"))
    account_options(ack, body, CSM, sqlite_services)
    _, kwargs = ack.once
    assert [o["value"] for o in kwargs["options"]] == ["c:0015g00000Globex", "n:glob"]


def test_account_picked_and_update_view_directly(sqlite_services, standin):
    from blocks.modal import Prefill, signal_modal
    from bot.delivery import make_client
    from handlers.suggestions import account_picked, update_view
    from tests.handlers.direct import Acks, body_of
    from tests.people import SECRET

    feed(sqlite_services, GLOBEX)
    client = make_client("xoxb-test", standin.base_url)
    config = sqlite_services.config
    modal = signal_modal(config.rubric, config.sla, Prefill(account_picker=True))
    view = client.views_open(trigger_id=slack_requests.new_trigger_id(), view=modal)["view"]
    body = body_of(slack_requests.block_actions(
        SECRET, user_id=CSM, action_id="value", block_id="account", view=view,
        selected_option={"text": {"type": "plain_text", "text": "Globex"},
                         "value": "c:0015g00000Globex"}, action_type="external_select"))
    context: dict = {}
    ack = Acks()
    account_picked(ack, body, CSM, context, sqlite_services)
    assert ack.once == ((), {})
    assert block(context["updated_view"], f"ae.{AE}")["element"]["initial_user"] == AE
    update_view(client, body, context)
    assert standin.shown(view["id"])[f"ae.{AE}"] == AE  # a new block: Slack shows its AE
    assert not standin.rejections
