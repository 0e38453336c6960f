"""Deployment settings from the environment and `.env`, and the checks each run mode needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_DATABASE_URL, Settings, SettingsError

BOT = "xoxb-1-2-abc"
APP = "xapp-1-A1-abc"
README = "the README's install steps (README.md, 'Run it against your workspace')"


def test_empty_environment_gives_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///signalbot.db"
    assert settings.slack_api_url is None
    assert settings.mode() == "http"


def test_reads_every_variable() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": BOT,
            "SLACK_SIGNING_SECRET": "s3cret",
            "SLACK_APP_TOKEN": APP,
            "DATABASE_URL": "sqlite:///tmp/x.db",
            "SLACK_API_URL": "http://127.0.0.1:8900/api",
            "SIGNALBOT_CONFIG": "/etc/signalbot.yml",
            "SIGNALBOT_INGEST_TOKEN": "ingest",
        }
    )
    assert settings == Settings(
        slack_bot_token=BOT,
        slack_signing_secret="s3cret",
        slack_app_token=APP,
        database_url="sqlite:///tmp/x.db",
        slack_api_url="http://127.0.0.1:8900/api/",
        config_path="/etc/signalbot.yml",
        ingest_token="ingest",
    )
    assert settings.mode() == "socket"


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_env({"SLACK_APP_TOKEN": "  ", "DATABASE_URL": ""})
    assert settings.slack_app_token is None
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_secrets_stay_out_of_repr() -> None:
    text = repr(Settings.from_env({"SLACK_BOT_TOKEN": BOT, "SIGNALBOT_INGEST_TOKEN": "ingest"}))
    assert BOT not in text
    assert "ingest" not in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db/signal", "postgresql+psycopg://u:p@db/signal"),
        ("postgresql://u@db:5432/signal", "postgresql+psycopg://u@db:5432/signal"),
        ("postgresql+psycopg://u@db/signal", "postgresql+psycopg://u@db/signal"),
        ("sqlite:////var/lib/signalbot.db", "sqlite:////var/lib/signalbot.db"),
    ],
)
def test_database_url_normalisation(url: str, expected: str) -> None:
    assert Settings.from_env({"DATABASE_URL": url}).database_url == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [("https://slack.com/api", "https://slack.com/api/"), ("http://h:1/api/", "http://h:1/api/")],
)
def test_slack_api_url_gets_a_trailing_slash(url: str, expected: str) -> None:
    assert Settings.from_env({"SLACK_API_URL": url}).slack_api_url == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [("SLACK_API_URL", "slack.local/api"), ("DATABASE_URL", "signalbot.db")],
)
def test_malformed_urls(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: value})
    assert caught.value.variables == (name,)
    assert name in str(caught.value)
    assert README in str(caught.value)


# --- .env ----------------------------------------------------------------------------------


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"SLACK_BOT_TOKEN={BOT}\nDATABASE_URL=postgres://db/from_file\nSIGNALBOT_CONFIG=file.yml\n"
    )
    settings = Settings.from_env({"DATABASE_URL": "sqlite:///env.db"}, dotenv_path=dotenv)
    assert settings.slack_bot_token == BOT
    assert settings.database_url == "sqlite:///env.db"
    assert settings.config_path == "file.yml"


def test_explicit_environ_ignores_dotenv_in_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT}\n")
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).slack_bot_token is None
    assert Settings.from_env({}, dotenv_path=".env").slack_bot_token == BOT


def test_process_environment_and_default_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT}\nSLACK_APP_TOKEN={APP}\n")
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL", "SLACK_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-from-env")
    settings = Settings.from_env()
    assert settings.slack_bot_token == BOT
    assert settings.slack_app_token == "xapp-from-env"


def test_missing_dotenv_file_is_fine(tmp_path: Path) -> None:
    assert Settings.from_env({}, dotenv_path=tmp_path / "absent.env") == Settings()


# --- require_for ---------------------------------------------------------------------------


def full() -> Settings:
    return Settings(slack_bot_token=BOT, slack_signing_secret="s", slack_app_token=APP)


@pytest.mark.parametrize("mode", ["http", "socket", "worker"])
def test_require_for_passes_when_complete(mode: str) -> None:
    settings = full()
    assert settings.require_for(mode) is settings


@pytest.mark.parametrize(
    ("mode", "variables"),
    [
        ("http", ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")),
        ("socket", ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")),
        ("worker", ("SLACK_BOT_TOKEN",)),
    ],
)
def test_require_for_names_every_missing_variable(mode: str, variables: tuple[str, ...]) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings().require_for(mode)
    message = str(caught.value)
    assert caught.value.variables == variables
    for name in variables:
        assert f"{name} is not set" in message
    assert f"in {mode} mode" in message
    assert README in message
    assert "\n" not in message


def test_require_for_checks_token_prefixes_without_echoing_them() -> None:
    settings = Settings(slack_bot_token="xoxp-user-token", slack_app_token="xoxb-wrong")
    with pytest.raises(SettingsError) as caught:
        settings.require_for("socket")
    message = str(caught.value)
    assert caught.value.variables == ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    assert "SLACK_BOT_TOKEN does not start with 'xoxb-'" in message
    assert "SLACK_APP_TOKEN does not start with 'xapp-'" in message
    assert "xoxp-user-token" not in message


def test_require_for_http_ignores_the_app_token() -> None:
    Settings(slack_bot_token=BOT, slack_signing_secret="s").require_for("http")


def test_require_for_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        full().require_for("carrier-pigeon")
