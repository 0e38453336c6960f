"""What a member may see beyond their own signals: the digest preview and the account registry,
as the `visibility` settings say (roster, refusals: test_signal_command, test_card_actions)."""

from __future__ import annotations

import io

import pytest

from bot.config import ConfigError, load_config
from service.accounts import import_csv
from standin import requests as slack_requests
from tests.conftest import ADMIN, CSM, MGR, roster_config
from tests.handlers.test_digest import preview

STRANGER = "U0STRANGE1"


@pytest.fixture
def config():
    return roster_config(digest_visibility="managers", account_visibility="owners")


def reply(response) -> dict:
    assert response.status_code == 200
    return response.json()


def options(slack, user: str, typed: str) -> list[str]:
    body, headers = slack_requests.block_suggestion(
        slack.secret, user_id=user, action_id="value", block_id="account", value=typed
    )
    return [o["text"]["text"] for o in reply(slack.post((body, headers)))["options"]]


def test_the_digest_preview_follows_visibility_digest(slack):
    refused = preview(slack, CSM)
    assert "for managers and admins" in refused["text"] and "blocks" not in refused
    assert preview(slack, MGR)["blocks"]
    assert preview(slack, ADMIN)["blocks"]


def test_the_type_ahead_offers_only_ones_own_accounts(slack):
    with slack.services.unit_of_work() as session:
        import_csv(session, io.StringIO(
            "crm_id,name,csm,ae\ncrm-1,Globex Corp,U0CSM0001,U0AE00001\ncrm-2,Globus Ltd,,\n"
        ), slack.services.now())
    assert [o for o in options(slack, CSM, "glob") if "New account" not in o] == ["Globex Corp"]
    assert not [o for o in options(slack, STRANGER, "glob") if "New account" not in o]
    assert len([o for o in options(slack, ADMIN, "glob") if "New account" not in o]) == 2
    view = slack.open_signal_modal(STRANGER, "Globex Corp")  # no AE given away either
    [ae] = [b for b in view["blocks"] if b.get("block_id") == "ae"]
    assert "initial_user" not in ae["element"]


def test_a_bad_visibility_value_names_the_file_and_key(tmp_path):
    path = tmp_path / "signalbot.yml"
    path.write_text("visibility: {digest: everyone}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "visibility.digest" in str(caught.value) and str(path) in str(caught.value)
    path.write_text("visibility: {digest: admins, accounts: owners}\n")
    loaded = load_config(path)
    assert (loaded.digest_visibility, loaded.account_visibility) == ("admins", "owners")
