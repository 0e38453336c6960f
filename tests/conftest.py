"""Shared fixtures: databases (SQLite, PostgreSQL), the Slack stand-in, a running bot."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from sqlalchemy import text

from bot.config import Config
from bot.services import Services
from bot.settings import Settings
from standin import SlackStandin
from storage.db import make_engine, session_factory
from storage.models import Base
from tests.people import ADMIN, AE, AE2, CSM, MGR, SECRET, VP, roster_config
from tests.support import SlackDriver

PG_URL = os.environ.get(
    "SIGNALBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_REQUIRED = os.environ.get("CI") == "true" or os.environ.get("SIGNALBOT_REQUIRE_PG") == "1"


def _pg_available() -> str | None:
    try:
        engine = make_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


def pg_schema_url(schema: str) -> str:
    """PG_URL with its search_path set to `schema`."""
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def postgres_ready() -> None:
    problem = _pg_available()
    if problem is None:
        return
    if PG_REQUIRED:
        pytest.fail(f"PostgreSQL is required here (CI) but unreachable at {PG_URL}: {problem}")
    pytest.skip(
        f"PostgreSQL not reachable at {PG_URL} ({problem}); start it or set SIGNALBOT_TEST_PG_URL"
    )


@pytest.fixture
def pg_url(postgres_ready) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema for one test; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'signalbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """Each storage/scheduler test runs on SQLite and on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(name)


@pytest.fixture
def standin() -> Iterator[SlackStandin]:
    with SlackStandin() as server:
        for user, name, tz in [
            (CSM, "Casey CSM", "America/New_York"),
            (AE, "Alex AE", "America/New_York"),
            (AE2, "Avery AE", "Europe/London"),
            (MGR, "Morgan Manager", "America/Chicago"),
            (VP, "Val VP", "America/Los_Angeles"),
            (ADMIN, "Robin RevOps", "America/New_York"),
        ]:
            server.add_user(user, name=name, tz=tz, email=f"{user.lower()}@example.com")
        yield server


def make_services(url: str, standin: SlackStandin | None, config: Config | None = None) -> Services:
    settings = Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        database_url=url,
        slack_api_url=standin.base_url if standin else None,
    )
    services = Services.build(settings, config or roster_config())
    Base.metadata.create_all(services.engine)
    return services


@pytest.fixture
def config() -> Config:
    return roster_config()


@pytest.fixture
def services(db_url, standin, config) -> Iterator[Services]:
    services = make_services(db_url, standin, config)
    yield services
    services.engine.dispose()


@pytest.fixture
def sqlite_services(sqlite_url, standin, config) -> Iterator[Services]:
    services = make_services(sqlite_url, standin, config)
    yield services
    services.engine.dispose()


@pytest.fixture
def slack(sqlite_services, standin) -> Iterator[SlackDriver]:
    """The bot serving HTTP on a free port, driven with signed requests (SQLite)."""
    driver = SlackDriver.start(sqlite_services, standin, SECRET)
    yield driver
    driver.stop()


@pytest.fixture
def pg_slack(pg_url, standin, config) -> Iterator[SlackDriver]:
    """The same on PostgreSQL."""
    services = make_services(pg_url, standin, config)
    driver = SlackDriver.start(services, standin, SECRET)
    yield driver
    driver.stop()
    services.engine.dispose()


@pytest.fixture
def session_of():
    def factory(services: Services):
        return session_factory(services.engine)()

    return factory
