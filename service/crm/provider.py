"""The one client per CRM configuration per process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from protocol.config import Crm
from service.crm.base import Provider
from service.crm.hubspot import HubSpot
from service.crm.salesforce import Salesforce

_providers: dict[Crm, Provider] = {}
_lock = threading.Lock()


def provider_for(crm: Crm, clock: Callable[[], datetime]) -> Provider:
    """The process's client for this CRM configuration (caches owners, tokens, links)."""
    with _lock:
        found = _providers.get(crm)
        if found is None:
            if crm.provider == "hubspot":
                found = HubSpot(crm)
            elif crm.provider == "salesforce":
                found = Salesforce(crm, clock)
            else:
                raise ValueError(f"no CRM configured (crm.provider is {crm.provider!r})")
            _providers[crm] = found
        return found


def forget_providers() -> None:
    """Drop cached clients (tests; a changed configuration)."""
    with _lock:
        _providers.clear()
