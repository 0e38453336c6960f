"""Secrets and deployment settings from the environment (and an optional `.env` file)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dotenv import dotenv_values

from bot.runtime_settings import Runtime, runtime_from

DEFAULT_DATABASE_URL = "sqlite:///signalbot.db"  # a file in the working directory
MODES = ("http", "socket", "worker")
MIN_INGEST_TOKEN = 32  # characters; a guessable bearer token is no lock

_README = "the README's install steps (README.md, 'Run it against your workspace')"
_URL_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_DEFAULT_DOTENV = ".env"
_UNSET: Any = object()  # lets from_env tell "dotenv_path not given" from an explicit value


class SettingsError(Exception):
    """A missing or malformed environment variable, explained in one paragraph for a human."""

    def __init__(self, problems: list[str], variables: list[str], *, mode: str | None = None):
        self.problems = tuple(problems)
        self.variables = tuple(variables)
        self.mode = mode
        super().__init__(_paragraph(problems, mode))


def _paragraph(problems: list[str], mode: str | None) -> str:
    start = f"signalbot cannot start in {mode} mode" if mode else "signalbot cannot start"
    return (
        f"{start}: {'; '.join(problems)}. Set these in the environment or in a .env file in the "
        f"working directory; see {_README}."
    )


@dataclass(frozen=True)
class Settings:
    """Where to reach Slack and the database, and the secrets to do it with."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    slack_api_url: str | None = None  # None: Slack's own; otherwise ends with "/"
    config_path: str | None = None
    ingest_token: str | None = field(default=None, repr=False)
    runtime: Runtime = field(default_factory=Runtime)  # server, pools, shutdown, metrics, logs

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | os.PathLike[str] | None = _UNSET,
    ) -> Settings:
        """Read settings from `environ` (default: the process environment) and a `.env` file.

        The real environment wins over the file. With an explicit `environ` (as in tests) no
        `.env` is read unless `dotenv_path` is given too; `dotenv_path=None` never reads one.
        Raises SettingsError for a malformed DATABASE_URL, SLACK_API_URL or SIGNALBOT_* value.
        """
        if dotenv_path is _UNSET:
            dotenv_path = _DEFAULT_DOTENV if environ is None else None
        values = {**_read_dotenv(dotenv_path), **(os.environ if environ is None else environ)}

        def get(name: str) -> str | None:
            value = (values.get(name) or "").strip()
            return value or None

        runtime, problems, names = runtime_from(get)
        if problems:
            raise SettingsError(problems, names)
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            database_url=normalise_database_url(get("DATABASE_URL")),
            slack_api_url=normalise_slack_api_url(get("SLACK_API_URL")),
            config_path=get("SIGNALBOT_CONFIG"),
            ingest_token=get("SIGNALBOT_INGEST_TOKEN"),
            runtime=runtime,
        )

    def mode(self) -> str:
        """`"socket"` when an app-level token is set (Socket Mode), otherwise `"http"`."""
        return "socket" if self.slack_app_token else "http"

    def require_for(self, mode: str) -> Settings:
        """Check that everything `mode` (http, socket or worker) needs is set; return self.

        Raises SettingsError naming every missing or malformed variable at once.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        checks = [("SLACK_BOT_TOKEN", self.slack_bot_token, "xoxb-", "the bot token")]
        if mode == "http":
            checks.append(("SLACK_SIGNING_SECRET", self.slack_signing_secret, None, None))
        if mode == "socket":
            checks.append(("SLACK_APP_TOKEN", self.slack_app_token, "xapp-", "the app token"))
        problems, variables = [], []
        for name, value, prefix, what in checks:
            problem = _check_secret(name, value, prefix, what)
            if problem:
                problems.append(problem)
                variables.append(name)
        if mode != "worker" and self.ingest_token and len(self.ingest_token) < MIN_INGEST_TOKEN:
            problems.append(
                f"SIGNALBOT_INGEST_TOKEN is shorter than {MIN_INGEST_TOKEN} characters; make one "
                "with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
            variables.append("SIGNALBOT_INGEST_TOKEN")
        if problems:
            raise SettingsError(problems, variables, mode=mode)
        return self


def _check_secret(name: str, value: str | None, prefix: str | None, what: str | None) -> str:
    """What is wrong with one secret, or "" if nothing; never echoes the secret itself."""
    if not value:
        return f"{name} is not set"
    if prefix and not value.startswith(prefix):
        return f"{name} does not start with {prefix!r} (use {what} from the Slack app's settings)"
    return ""


def _read_dotenv(path: str | os.PathLike[str] | None) -> dict[str, str | None]:
    if path is None or not os.path.isfile(path):
        return {}
    return dict(dotenv_values(path))


def normalise_database_url(url: str | None) -> str:
    """The SQLAlchemy URL to use: the default for None, psycopg 3 for `postgres(ql)://`."""
    if url is None:
        return DEFAULT_DATABASE_URL
    if not _URL_SCHEME.match(url):
        raise SettingsError(
            ["DATABASE_URL is not a database URL (expected e.g. postgresql://user@host/db)"],
            ["DATABASE_URL"],
        )
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def normalise_slack_api_url(url: str | None) -> str | None:
    """None stays None (Slack's own API); otherwise an http(s) URL ending with `/`."""
    if url is None:
        return None
    if not url.lower().startswith(("http://", "https://")):
        raise SettingsError(
            ["SLACK_API_URL is not an http:// or https:// URL"],
            ["SLACK_API_URL"],
        )
    return url if url.endswith("/") else url + "/"
