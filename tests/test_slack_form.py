"""Slack's interaction payloads decoded in C (bot/slack_form.py) read as Bolt reads them."""

from __future__ import annotations

import json
import random
from urllib.parse import quote, urlencode

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import parse_body

from bot.slack_form import FormRequest, bolt_request, form_payload
from standin import requests as slack_requests
from tests.people import AE, CSM

SECRET = "s3cret"
FORM = "application/x-www-form-urlencoded"
# what a CSM may type: JSON's own characters, "%" and "+" and "=", line breaks, accents,
# an emoji, a separator Slack's JSON leaves unescaped
TYPED = [*map(chr, range(32, 127)), "\n", "\t", "\r", "é", "ü", "€", "😀", "\u2028", "%",
         "+", "=", "&", "_"]


def _submission(text: str) -> str:
    view = {"type": "modal", "callback_id": "signal_modal", "id": "V1",
            "blocks": [{"type": "input", "block_id": "note",
                        "label": {"type": "plain_text", "text": "Note"},
                        "element": {"type": "plain_text_input", "action_id": "note"}}]}
    body, _ = slack_requests.view_submission(
        SECRET, user_id=CSM, view=view,
        state_values={"note": {"note": {"type": "plain_text_input", "value": text}}})
    return body


def test_a_modal_submission_reads_as_bolt_reads_it():
    body = _submission('Asked for 40 more seats & SSO: "by Q3", 100% sure + 😀\nSay=yes')
    assert form_payload(body) == parse_body(body, FORM)
    assert form_payload(body)["view"]["state"]["values"]["note"]["note"]["value"].endswith(
        "Say=yes")


def test_whatever_is_typed_reads_as_bolt_reads_it():
    rng = random.Random(16)
    for _ in range(2000):
        text = "".join(rng.choice(TYPED) for _ in range(rng.randint(0, 30)))
        payload = {"type": "block_actions", "user": {"id": AE}, "value": text,
                   "nested": [text[::-1], {"k": text}]}
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=rng.random() < 0.5)})
        assert form_payload(body) == parse_body(body, FORM), text


@pytest.mark.parametrize("body", [
    "token=x&command=%2Fsignal&text=Acme",  # a slash command: several fields
    "payload=" + quote('{"a": 1}') + "&extra=1",  # another field beside the payload
    "payload=%7B%22a%22%3A%22100%zz%22%7D",  # a "%" that starts no escape
    "payload=%7B%22a%22%3A%22x%22%7D%",  # a "%" at the very end
    'payload={"a": "é"}',  # bytes outside ASCII, sent unescaped
    "payload=%FF%FE",  # not UTF-8
    "payload=" + quote("[1, 2]"),  # JSON, but not an object
    "payload=not%20json",
    "",
])
def test_anything_else_is_left_to_bolt(body):
    assert form_payload(body) is None
    headers = {"content-type": FORM}
    try:
        expected: object = BoltRequest(body=body, headers=headers).body
    except Exception as refused:  # noqa: BLE001 - Bolt's own answer to a payload it cannot read
        expected = type(refused)
    try:
        request = bolt_request(body, "", headers)
    except Exception as refused:  # noqa: BLE001 - compared with Bolt's
        assert type(refused) is expected
    else:
        assert type(request) is BoltRequest and request.body == expected


def test_the_request_and_a_lazy_listeners_copy_are_bolts_own():
    body = _submission("Expanding to the EU team")
    headers = {"content-type": FORM, "x-slack-signature": "v0=abc",
               "x-slack-request-timestamp": "1700000000"}
    mine, bolts = bolt_request(body, "", headers), BoltRequest(body=body, headers=headers)
    assert isinstance(mine, FormRequest)
    copy = mine.to_copyable()
    assert isinstance(copy, FormRequest)  # decoded here again, not by Bolt
    for request in (mine, copy):
        assert request.raw_body == bolts.raw_body  # what the signature is checked on
        assert request.body == bolts.body
        assert request.headers == bolts.headers and request.mode == "http"
        assert dict(request.context) == dict(bolts.context)
        assert request.context.user_id == CSM and request.context.team_id
