"""The CRM as the system of record: every handed-off signal upserted as a deal / opportunity.

- `mapping`: signal -> CRM fields (pure), the custom properties and their names per CRM;
- `hubspot`, `salesforce`: the REST clients (one per configuration per process);
- `sync`: the hook the use cases call (`sync_items`) and the outbox senders;
- `records`: the card link, the digest's counts (`crm_problems`), backfill and retry;
- `http`: pooled httpx clients, Transient / Permanent errors, secrets from the environment.

See docs/crm.md.
"""

from service.crm.records import card_links, crm_problems
from service.crm.sync import sync_items

__all__ = ["card_links", "crm_problems", "sync_items"]
