"""manifest.yml is a valid Slack app manifest and asks for exactly the scopes the bot uses."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"
BUNDLED_SCHEMA = Path(__file__).resolve().parent / "data" / "manifest.schema.1.0.0.json"

# Adding a scope must be a deliberate change: update this set and the YAML comment together.
EXPECTED_BOT_SCOPES = {
    "commands",
    "chat:write",
    "im:write",
    "im:history",
    "channels:history",
    "groups:history",
    "users:read",
    "users:read.email",
    "usergroups:read",
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema() -> dict:
    path = SHARED_SCHEMA if SHARED_SCHEMA.is_file() else BUNDLED_SCHEMA
    return json.loads(path.read_text(encoding="utf-8"))


def test_matches_slacks_json_schema(manifest, schema):
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_is_draft_7(schema):
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft7Validator


def test_signal_slash_command(manifest):
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    assert "/signal" in commands
    assert commands["/signal"]["should_escape"] is True  # mentions arrive as <@U…> ids


def test_message_shortcut(manifest):
    shortcuts = manifest["features"]["shortcuts"]
    assert [(s["type"], s["callback_id"]) for s in shortcuts] == [
        ("message", "log_signal_from_message")
    ]


def test_home_tab_and_messages_tab(manifest):
    app_home = manifest["features"]["app_home"]
    assert app_home["home_tab_enabled"] is True
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False


def test_socket_mode_and_events(manifest):
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert "message_menu_options_url" in settings["interactivity"]  # external_select
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened", "message.im",
                                                            "subteam_members_changed"]


def test_bot_scopes_are_exactly_the_ones_used(manifest):
    scopes = manifest["oauth_config"]["scopes"]
    assert set(scopes) == {"bot"}, "the bot needs no user-token scopes"
    assert len(scopes["bot"]) == len(set(scopes["bot"])), "duplicate scope"
    assert set(scopes["bot"]) == EXPECTED_BOT_SCOPES


def test_the_standin_grants_what_the_manifest_asks(manifest):
    from standin.server import BOT_SCOPES

    assert set(BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])
