"""Links built from data the bot does not control (a modal's private_metadata, a CRM's answer)
are rebuilt from parsed parts and escaped: no `|text>`, no `<!channel>` reaches a card."""

from __future__ import annotations

import json

from freezegun import freeze_time

from tests.conftest import AE, CSM
from tests.crm_support import (  # noqa: F401 - fixtures
    START,
    _fresh_clients,
    bot,
    hubspot_crm,
    hubspot_fixture,
    record,
)
from tests.flow import log, worker
from tests.support import VALID_SIGNAL

FORGED = "https://acme.slack.com/archives/C1/p1|click me> <!channel> <https://evil.example"


def card_text(standin, user: str) -> str:
    return json.dumps(standin.dm_messages(user)[-1]["blocks"])


def test_a_link_in_private_metadata_cannot_ping_or_relabel(slack):
    view = slack.open_signal_modal(CSM)
    view["private_metadata"] = json.dumps({"source": "shortcut", "link": FORGED})
    assert slack.submit(view, CSM, VALID_SIGNAL).status_code == 200
    slack.deliver()
    text = card_text(slack.standin, AE)
    assert "<!channel>" not in text and "|click me" not in text and "<https://evil" not in text
    assert "<https://acme.slack.com/archives/C1/p1%7Cclick%20me%3E%20%3C!channel%3E" in text
    assert "|source message>" in text


def test_a_link_that_is_not_plain_https_is_left_out(slack):
    view = slack.open_signal_modal(CSM)
    view["private_metadata"] = json.dumps({"link": "https://user:pw@evil.example:8443/x"})
    slack.submit(view, CSM, VALID_SIGNAL)
    slack.deliver()
    assert "source message" not in card_text(slack.standin, AE)


def test_a_crm_ui_domain_cannot_carry_mrkdwn_into_the_card(sqlite_url, standin, hubspot,
                                                          monkeypatch):
    hubspot.ui_domain = "app.hubspot.com/x|Open in HubSpot> <!channel> <https://evil.example"
    services = bot(sqlite_url, standin, monkeypatch, hubspot_crm(hubspot))
    with freeze_time(START):
        signal_id = log(services)
        worker(services, standin).deliverer.drain()
    saved = record(services, signal_id)
    assert saved.url.startswith("https://app.hubspot.com/contacts/4242/record/0-3/")
    text = json.dumps([c.params.get("blocks") for c in standin.calls_to("chat.update")])
    assert f"<{saved.url}|Open in HubSpot>" in text and "<!channel>" not in text
