"""The process's outbound connections for the CRM and webhooks, owned by `Services`.

One pooled HTTP client per provider and base URL (with the hosts resting after a failure),
one CRM client per configuration (it caches owners, tokens, links), and the Slack workspace
URL for permalinks (asked once per Slack client).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

from protocol.config import Crm
from service.crm.base import Provider
from service.crm.http import Pool
from service.crm.hubspot import HubSpot
from service.crm.salesforce import Salesforce


class Connections:
    """What outbound calls keep between rows; one per process."""

    def __init__(self) -> None:
        self.pool = Pool()
        self._providers: dict[Crm, Provider] = {}
        self._workspaces: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def provider(self, crm: Crm, clock: Callable[[], datetime]) -> Provider:
        """The client for this CRM configuration (created on first use)."""
        with self._lock:
            found = self._providers.get(crm)
            if found is None:
                if crm.provider == "hubspot":
                    found = HubSpot(crm, self.pool)
                elif crm.provider == "salesforce":
                    found = Salesforce(crm, clock, self.pool)
                else:
                    raise ValueError(f"no CRM configured (crm.provider is {crm.provider!r})")
                self._providers[crm] = found
            return found

    def workspace_url(self, client: Any) -> str | None:
        """The Slack workspace's URL (`auth.test`, once per client); None when it fails."""
        with self._lock:
            known = self._workspaces.get(client)
        if known is None:
            try:
                known = str(client.auth_test()["url"])
            except Exception:  # noqa: BLE001 - no link is better than no CRM write
                return None
            with self._lock:
                self._workspaces[client] = known
        return known

    def close(self) -> None:
        """Drop the CRM clients and close the HTTP pool (shutdown, a changed configuration)."""
        with self._lock:
            self._providers.clear()
        self.pool.close()
