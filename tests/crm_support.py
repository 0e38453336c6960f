"""Fixtures for the CRM and webhook tests: HubSpot / Salesforce stand-ins, a bot using them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Crm, Webhook
from standin.hubspot import HubSpotStandin
from standin.rest import Request, RestStandin
from standin.salesforce import SalesforceStandin
from storage.models import CrmRecord, OutboxMessage
from tests.conftest import make_services
from tests.people import AE, AE2, roster_config

START = "2026-11-23 14:00:00"
TIMEOUT = timedelta(seconds=0.5)
HOOK_SECRET = "whsec-test-0123456789"


def email(user: str) -> str:
    """The e-mail the Slack stand-in gives `user` (see conftest)."""
    return f"{user.lower()}@example.com"


_opened: list = []  # the Services `bot()` made in this test, closed after it


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Each test's `Services` own their CRM and webhook connections: close them afterwards."""
    yield
    while _opened:
        _opened.pop().connections.close()


@pytest.fixture(name="hubspot")
def hubspot_fixture() -> Iterator[HubSpotStandin]:
    with HubSpotStandin() as server:
        server.add_owner(email(AE), "Alex", "AE")
        server.add_owner(email(AE2), "Avery", "AE")
        yield server


@pytest.fixture(name="salesforce")
def salesforce_fixture() -> Iterator[SalesforceStandin]:
    with SalesforceStandin() as server:
        server.add_user(email(AE))
        server.add_user(email(AE2))
        yield server


class Receiver(RestStandin):
    """A webhook receiver: records every POST, answers 200 (or the queued faults)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_route("POST", "/hooks/.*", "hook", lambda request, _: {"ok": True})

    def posts(self) -> list[Request]:
        """The POSTs that were answered 2xx."""
        return [r for r in self.calls_to("hook") if r.status and r.status < 300]


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def hubspot_crm(server: HubSpotStandin, **changes) -> Crm:
    """The `crm:` section pointing at the HubSpot stand-in."""
    values = dict(provider="hubspot", base_url=server.base_url, token_env="HUBSPOT_TOKEN",
                  timeout=TIMEOUT)
    values.update(changes)
    return Crm(**values)


def salesforce_crm(server: SalesforceStandin, **changes) -> Crm:
    """The `crm:` section pointing at the Salesforce stand-in."""
    values = dict(provider="salesforce", base_url=server.base_url, api_version="62.0",
                  client_id_env="SF_CLIENT_ID", client_secret_env="SF_CLIENT_SECRET",
                  timeout=TIMEOUT)
    values.update(changes)
    return Crm(**values)


def hook(server: Receiver, *events: str) -> Webhook:
    """A webhook to the receiver stand-in."""
    kwargs = {"events": events} if events else {}
    return Webhook(url=f"{server.base_url}/hooks/signals", secret_env="HOOK_SECRET", **kwargs)


def bot(url, slack, monkeypatch, crm: Crm | None = None, webhooks=(), **config):
    """Services with the CRM / webhooks configured and their secrets in the environment."""
    monkeypatch.setenv("HUBSPOT_TOKEN", "pat-na1-test")
    monkeypatch.setenv("SF_CLIENT_ID", "3MVG-test-client")
    monkeypatch.setenv("SF_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("HOOK_SECRET", HOOK_SECRET)
    values = {"crm": crm or Crm(), "webhooks": tuple(webhooks), **config}
    services = make_services(url, slack, roster_config(**values))
    _opened.append(services)
    return services


def rows(services, kind: str | None = None) -> list[OutboxMessage]:
    """Outbox rows (of one kind), in order."""
    with services.unit_of_work() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list(session.scalars(stmt))


def record(services, signal_id: int) -> CrmRecord | None:
    """The signal's CrmRecord."""
    with services.unit_of_work() as session:
        return session.scalar(select(CrmRecord).where(CrmRecord.signal_id == signal_id))
