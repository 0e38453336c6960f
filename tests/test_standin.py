"""Tests for the local Slack Web API stand-in and the signed-request builders."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.error import URLError
from urllib.parse import parse_qs

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from standin import (
    BOT_USER_ID,
    TEAM_ID,
    SlackStandin,
    app_home_opened,
    block_actions,
    block_suggestion,
    event_callback,
    message_shortcut,
    sign,
    slash_command,
    view_submission,
    views,
)
from standin.views import new_trigger_id

SECRET = "test-signing-secret"
SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}
MODAL = {"type": "modal", "callback_id": "handoff", "title": {"type": "plain_text", "text": "T"},
         "blocks": [SECTION], "private_metadata": "pm-1"}
HOME = {"type": "home", "blocks": [SECTION]}
META = {"event_type": "signal_posted", "event_payload": {"signal_id": 7}}


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        server.add_user("U0CUST0001", "alice", email="alice@example.com", tz="Europe/Paris")
        yield server


@pytest.fixture
def client(standin: SlackStandin) -> WebClient:
    return WebClient(token="xoxb-test", base_url=standin.base_url, retry_handlers=[], timeout=2)


def _error(exc: pytest.ExceptionInfo[SlackApiError]) -> Any:
    return exc.value.response["error"]


# --------------------------------------------------------------------------- basics


def test_base_url_and_auth_test(standin: SlackStandin, client: WebClient) -> None:
    assert standin.base_url == f"http://127.0.0.1:{standin.port}/api/"
    resp = client.auth_test()
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == (TEAM_ID, BOT_USER_ID,
                                                                 "B0BOT00001")
    assert [c.method for c in standin.calls] == ["auth.test"]


def test_missing_token_is_not_authed(standin: SlackStandin) -> None:
    with pytest.raises(SlackApiError) as exc:
        WebClient(base_url=standin.base_url, retry_handlers=[]).auth_test()
    assert _error(exc) == "not_authed"


def test_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.teleport")
    assert _error(exc) == "unknown_method"


# --------------------------------------------------------------------------- messages


def test_post_update_history_with_metadata(standin: SlackStandin, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C0SALES", text="one", blocks=[SECTION],
                                    metadata=META)
    second = client.chat_postMessage(channel="C0SALES", text="two")
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["metadata"] == META
    client.chat_update(channel="C0SALES", ts=first["ts"], text="one, edited")
    history = client.conversations_history(channel="C0SALES", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["two", "one, edited"]
    assert history["messages"][1]["metadata"] == META
    plain = client.conversations_history(channel="C0SALES", limit=1)
    assert "metadata" not in plain["messages"][0] and plain["has_more"] is True
    stored = standin.messages("C0SALES")[0]
    assert (stored["updated"], stored["blocks"], stored["metadata"]) == (1, [SECTION], META)
    assert standin.rejections == []


def test_history_oldest_latest(client: WebClient) -> None:
    tss = [client.chat_postMessage(channel="C1", text=str(i))["ts"] for i in range(4)]
    got = client.conversations_history(channel="C1", oldest=tss[0], latest=tss[3])
    assert [m["ts"] for m in got["messages"]] == [tss[2], tss[1]]


def test_form_encoded_blocks_are_decoded(standin: SlackStandin, client: WebClient) -> None:
    client.api_call("chat.postMessage", params={"channel": "C1", "text": "x",
                                                "blocks": json.dumps([SECTION]),
                                                "metadata": json.dumps(META)})
    assert standin.messages("C1")[0]["blocks"] == [SECTION]
    assert standin.calls_to("chat.postMessage")[0].params["metadata"] == META


def test_dm_to_user_id_and_conversations_open(standin: SlackStandin,
                                              client: WebClient) -> None:
    posted = client.chat_postMessage(channel="U0CUST0001", text="hi")
    opened = client.conversations_open(users="U0CUST0001")["channel"]["id"]
    assert posted["channel"] == opened == "D0CUST0001"
    assert client.conversations_open(users=["U0CUST0001"])["channel"]["id"] == opened
    assert [m["text"] for m in standin.dm_messages("U0CUST0001")] == ["hi"]
    assert len(standin.all_posts()) == 1


def test_invalid_blocks_rejected(standin: SlackStandin, client: WebClient) -> None:
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    for blocks in ([too_long], [{"type": "bogus"}], [SECTION] * 51,
                   [{"type": "actions", "elements": [{"type": "bogus"}]}]):
        with pytest.raises(SlackApiError) as exc:
            client.chat_postMessage(channel="C1", text="x", blocks=blocks)
        assert _error(exc) == "invalid_blocks" and exc.value.response["errors"]
    assert len(standin.rejections) == 4 and standin.messages("C1") == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_no_text_too_long_and_bad_update(standin: SlackStandin, client: WebClient) -> None:
    cases = [(lambda: client.chat_postMessage(channel="C1"), "no_text"),
             (lambda: client.chat_postMessage(channel="C1", text="x" * 40_001), "msg_too_long"),
             (lambda: client.chat_update(channel="C1", ts="1.000001", text="x"),
              "message_not_found")]
    for call, error in cases:
        with pytest.raises(SlackApiError) as exc:
            call()
        assert _error(exc) == error
    assert [r.error for r in standin.rejections] == [e for _, e in cases]


def test_ephemeral_and_permalink(standin: SlackStandin, client: WebClient) -> None:
    eph = client.chat_postEphemeral(channel="C1", user="U0CUST0001", text="psst")
    assert eph["message_ts"] and standin.ephemerals[0]["text"] == "psst"
    link = client.chat_getPermalink(channel="C1", message_ts="1700000000.000100")
    assert link["permalink"] == "https://standin.slack.example/archives/C1/p1700000000000100"


def test_duplicates(standin: SlackStandin, client: WebClient) -> None:
    client.chat_postMessage(channel="C1", text="a", metadata=META)
    assert standin.duplicates() == []
    client.chat_postMessage(channel="C1", text="b", metadata=META)
    assert [c for c, _ in standin.duplicates()] == ["C1"]


# --------------------------------------------------------------------------- views & users


def test_views(standin: SlackStandin, client: WebClient) -> None:
    opened = client.views_open(trigger_id=new_trigger_id(), view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["private_metadata"] == "pm-1"
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert _error(exc) == "hash_conflict"
    assert standin.view(opened["id"])["hash"] == updated["view"]["hash"]
    client.views_publish(user_id="U0CUST0001", view=HOME)
    assert standin.published_home("U0CUST0001")["blocks"] == [SECTION]
    assert standin.views_opened()[0]["callback_id"] == "handoff"


def test_triggers_expire_after_3_seconds_and_serve_once(
        standin: SlackStandin, client: WebClient) -> None:
    old = views.new_trigger_id(issued_at=time.time() - 3.5)
    fresh = new_trigger_id()
    answers = []
    for trigger in (old, "not-a-trigger", fresh, fresh):
        try:
            client.views_open(trigger_id=trigger, view=MODAL)
            answers.append("ok")
        except SlackApiError as exc:
            answers.append(exc.response["error"])
    assert answers == ["expired_trigger_id", "invalid_trigger_id", "ok", "exchanged_trigger_id"]


def test_views_update_keeps_what_was_typed_in_unchanged_inputs(
        standin: SlackStandin, client: WebClient) -> None:
    def modal(block_id: str, initial: str) -> dict:
        element = {"type": "plain_text_input", "action_id": "v", "initial_value": initial}
        return {**MODAL, "blocks": [{"type": "input", "block_id": block_id,
                                     "label": {"type": "plain_text", "text": "Name"},
                                     "element": element}]}

    opened = client.views_open(trigger_id=new_trigger_id(), view=modal("name", "a"))["view"]
    standin.type_into(opened["id"], {"name": "typed"})
    client.views_update(view_id=opened["id"], view=modal("name", "b"))
    assert standin.shown(opened["id"]) == {"name": "typed"}  # initial_value ignored
    client.views_update(view_id=opened["id"], view=modal("name2", "c"))
    assert standin.shown(opened["id"]) == {"name2": "c"}  # a new block_id starts afresh
    with pytest.raises(SlackApiError) as exc:
        client.views_update(view_id="V0NOSUCH", view=modal("name", "d"))
    assert _error(exc) == "not_found"


def test_invalid_view_rejected(standin: SlackStandin, client: WebClient) -> None:
    bad = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    for view in (bad, {**MODAL, "blocks": [{"type": "bogus"}]}, HOME):
        with pytest.raises(SlackApiError) as exc:
            client.views_open(trigger_id=new_trigger_id(), view=view)
        assert _error(exc) == "invalid_arguments"
    assert standin.views_opened() == [] and len(standin.rejections) == 3


def test_users(standin: SlackStandin, client: WebClient) -> None:
    user = client.users_info(user="U0CUST0001")["user"]
    assert (user["name"], user["tz"], user["profile"]["email"]) == (
        "alice", "Europe/Paris", "alice@example.com")
    assert user["tz_offset"] in (3600, 7200)
    assert client.users_lookupByEmail(email="ALICE@example.com")["user"]["id"] == "U0CUST0001"
    with pytest.raises(SlackApiError) as exc:
        client.users_info(user="U0NOBODY01")
    assert _error(exc) == "user_not_found"
    assert standin.rejections == []  # lookups that find nothing are answers, not refusals


# --------------------------------------------------------------------------- faults


def test_429_with_retry_after(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="x")
    assert exc.value.response.status_code == 429
    assert exc.value.response.headers["Retry-After"] == "7"
    assert standin.messages("C1") == []
    client.chat_postMessage(channel="C1", text="x")  # the fault was used up
    assert [c.status for c in standin.calls] == [429, 200]


def test_500_after_keeping_the_message(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", status=500, keep=True)
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="kept", metadata=META)
    assert exc.value.response.status_code == 500
    assert [m["text"] for m in standin.messages("C1")] == ["kept"]


def test_drop_closes_connection(standin: SlackStandin, client: WebClient) -> None:
    standin.fail_next("chat.postMessage", drop=True, keep=True)
    with pytest.raises((URLError, ConnectionError, http.client.HTTPException)):
        client.chat_postMessage(channel="C1", text="x")
    assert len(standin.messages("C1")) == 1
    assert client.chat_postMessage(channel="C1", text="y")["ok"]


def test_error_any_method_and_delay(standin: SlackStandin) -> None:
    standin.fail_next(None, error="channel_not_found").fail_next(None, delay=0.3)
    fast = WebClient(token="xoxb-test", base_url=standin.base_url, retry_handlers=[],
                     timeout=0.1)
    with pytest.raises(SlackApiError) as exc:
        fast.users_info(user="U0CUST0001")
    assert _error(exc) == "channel_not_found"
    with pytest.raises((TimeoutError, URLError)):
        fast.chat_postMessage(channel="C1", text="late")


def test_rate_limit(standin: SlackStandin, client: WebClient) -> None:
    standin.rate_limit(per_channel_per_second=0.5, burst=2)
    client.chat_postMessage(channel="C1", text="1")
    client.chat_postMessage(channel="U0CUST0001", text="2")
    client.chat_postMessage(channel="C1", text="3")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C1", text="4")
    assert exc.value.response.status_code == 429
    assert int(exc.value.response.headers["Retry-After"]) >= 1


def test_tiers_limit_each_method_per_workspace(standin: SlackStandin, client: WebClient) -> None:
    """Tier 3 (conversations.open): 50 a minute, spent as one burst, then 429 for that method
    only; chat.postMessage goes on in another conversation."""
    standin.rate_limit(tiers=True)
    for _ in range(50):
        client.conversations_open(users="U0CUST0001")
    with pytest.raises(SlackApiError) as exc:
        client.conversations_open(users="U0CUST0001")
    assert exc.value.response.status_code == 429
    assert client.users_info(user="U0CUST0001")["ok"]  # Tier 4: its own bucket
    assert client.chat_postMessage(channel="C1", text="still fine")["ok"]


def test_workspace_ceiling_on_posts(standin: SlackStandin, client: WebClient) -> None:
    standin.rate_limit(per_channel_per_second=1, burst=5, posts_per_minute=60)
    for i in range(10):  # ten conversations, one post each: the workspace burst of ten
        client.chat_postMessage(channel=f"C{i}", text="x")
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel="C99", text="one too many")
    assert exc.value.response.status_code == 429


def test_latency_answers_calls_side_by_side_and_notes_overlaps(standin: SlackStandin,
                                                                client: WebClient) -> None:
    standin.latency = 0.5
    barrier = threading.Barrier(4)

    def post(channel: str) -> None:
        barrier.wait()
        client.chat_postMessage(channel=channel, text="x")

    threads = [threading.Thread(target=post, args=(c,)) for c in ("C1", "C2", "C3", "C1")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert standin.peak_in_flight >= 2  # not one after another
    assert [o.channel for o in standin.overlaps] == ["C1"]  # two at once into C1
    standin.reset()
    client.chat_postMessage(channel="C1", text="alone")
    assert standin.overlaps == [] and standin.peak_in_flight == 1


def test_concurrent_posts_get_unique_ts(standin: SlackStandin, client: WebClient) -> None:
    threads = [threading.Thread(target=client.chat_postMessage,
                                kwargs={"channel": "C1", "text": str(i)}) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({m["ts"] for m in standin.messages("C1")}) == 20


# --------------------------------------------------------------------------- signed requests


def test_sign_verifies() -> None:
    body = "token=x&text=hello"
    headers = sign(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other").is_valid_request(body, headers)
    assert sign(SECRET, body.encode(), 1700000000)["X-Slack-Request-Timestamp"] == "1700000000"


def test_slash_command_form() -> None:
    body, headers = slash_command(SECRET, user_id="U0CUST0001", text="acme 5 seats")
    fields = {k: v[0] for k, v in parse_qs(body).items()}
    assert (fields["command"], fields["text"], fields["user_id"]) == (
        "/signal", "acme 5 seats", "U0CUST0001")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


def test_bolt_routes_every_builder(standin: SlackStandin) -> None:
    seen: list[str] = []
    app = App(token="xoxb-test", signing_secret=SECRET, process_before_response=True,
              client=WebClient(token="xoxb-test", base_url=standin.base_url))
    app.command("/signal")(lambda ack: (ack(), seen.append("command")))
    app.view("handoff")(lambda ack, view: (ack(), seen.append(view["private_metadata"])))
    app.action("approve")(lambda ack, action: (ack(), seen.append(action["value"])))
    app.action("pick")(lambda ack, action: (ack(), seen.append(
        action["selected_option"]["value"])))
    app.shortcut("to_signal")(lambda ack, shortcut: (ack(), seen.append(shortcut["type"])))
    app.options("account")(lambda ack, payload: (ack(options=[]), seen.append(payload["value"])))
    app.event("app_home_opened")(lambda event: seen.append(event["type"]))
    opened = standin.view(
        WebClient(token="xoxb-test", base_url=standin.base_url)
        .views_open(trigger_id=new_trigger_id(), view=MODAL)["view"]["id"])
    built = [
        slash_command(SECRET, user_id="U0CUST0001"),
        view_submission(SECRET, user_id="U0CUST0001", view=opened, state_values={}),
        block_actions(SECRET, user_id="U0CUST0001", action_id="approve", value="yes",
                      channel_id="C1", message_ts="1700000000.000100"),
        block_actions(SECRET, user_id="U0CUST0001", action_id="pick", selected_option="p1",
                      view=opened),
        message_shortcut(SECRET, user_id="U0CUST0001", callback_id="to_signal",
                         channel_id="C1", message_ts="1700000000.000200", message_text="hi"),
        block_suggestion(SECRET, user_id="U0CUST0001", action_id="account", value="ac",
                         view=opened),
        event_callback(SECRET, event=app_home_opened("U0CUST0001")),
    ]
    statuses = [app.dispatch(BoltRequest(body=b, headers=h)).status for b, h in built]
    assert statuses == [200] * len(built)
    assert seen == ["command", "pm-1", "yes", "p1", "message_action", "ac", "app_home_opened"]


def test_an_answer_naming_a_block_the_view_does_not_have_is_a_problem():
    from standin.views import submission_answer_problems

    view = {"type": "modal", "blocks": [
        {"type": "input", "block_id": "buyer", "label": {"type": "plain_text", "text": "Buyer"},
         "element": {"type": "plain_text_input", "action_id": "value"}},
        {"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "hi"}}]}
    ok = {"response_action": "errors", "errors": {"buyer": "Name the person who decides"}}
    assert submission_answer_problems(view, ok) == []
    assert submission_answer_problems(view, None) == []  # an empty ack closes the modal
    assert submission_answer_problems(view, {"response_action": "errors",
                                             "errors": {"intro": "x", "buyer": " "}}) == [
        "errors.intro: not an input block of the view",
        "errors.buyer: the message must be a non-empty string"]
    assert submission_answer_problems(view, {"response_action": "update"}) == ["update: no view"]
    assert submission_answer_problems(view, {"response_action": "close"}) == [
        "response_action: unknown value 'close'"]
