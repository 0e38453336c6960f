"""Settings for product-data triggers (and readiness), the CRM and outgoing webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class Tier:
    """A readiness part: above `high` earns `high_points`, from `mid` up earns `mid_points`."""

    high: float
    high_points: int
    mid: float
    mid_points: int


@dataclass(frozen=True)
class Readiness:
    """The readiness-to-expand score (0-100) and its parts, from the playbook's composite."""

    health: Tier = Tier(85, 25, 70, 15)
    adoption: Tier = Tier(0.75, 20, 0.60, 12)
    active_users: Tier = Tier(5, 20, 3, 12)
    tenure_months: Tier = Tier(9, 10, 6, 6)
    support_clear: int = 15  # no open support issue
    support_recent: int = 8  # none open, but one resolved in the last `support_recent_days`
    support_recent_days: int = 30
    usage_growing: int = 10
    usage_flat: int = 5
    flat_band: float = 0.02  # growth a cycle within +-2% counts as flat
    work_above: int = 70  # above: work it this quarter
    watch_from: int = 40  # from here up to work_above: watch monthly; below: fix health first


TRIGGER_KINDS = (
    "usage_ceiling",
    "usage_trend",
    "seat_capacity",
    "feature_unlock",
    "renewal_window",
)


@dataclass(frozen=True)
class Triggers:
    """Triggers from product data; defaults from the playbooks (PROTOCOL.md)."""

    enabled: bool = True
    snooze: timedelta = timedelta(days=30)
    ceiling_share: float = 0.70  # a metric at or above this share of its limit...
    ceiling_cycles: int = 2  # ...for this many consecutive billing cycles
    projection_cycles: int = 3  # growth measured over the last three cycles
    ceiling_hot_within: timedelta = timedelta(days=60)  # Hot when the limit is this close
    ceiling_lead: timedelta = timedelta(days=45)  # act this long before the projected day
    trend_growth: float = 0.08  # growth a cycle, every cycle...
    trend_cycles: int = 3  # ...for this many cycles
    seat_margin: float = 0.15  # active users within 15% of the seats bought (or above)
    unlock_attempts: int = 2  # attempts at one gated feature...
    unlock_window: timedelta = timedelta(days=14)  # ...within this span
    renewal_from: timedelta = timedelta(days=60)  # renewal this far away, at least...
    renewal_to: timedelta = timedelta(days=90)  # ...and at most
    risk_health_below: int = 70
    risk_support: tuple[str, ...] = ("P1", "P2")
    urgency: dict[str, str] = field(
        default_factory=lambda: {
            "usage_ceiling": "warm",
            "usage_trend": "watch",
            "seat_capacity": "hot",
            "feature_unlock": "hot",
            "renewal_window": "warm",
        }
    )
    readiness: Readiness = Readiness()
    default_cycle_months: int = 1  # when an account's billing cycle is not known
    max_events: int = 1000  # per ingest request
    max_body: int = 1_000_000  # bytes per ingest request
    max_value_ratio: float = 100.0  # a value above 100x its limit is rejected


CRM_PROVIDERS = ("none", "hubspot", "salesforce")
CRM_STAGE_KEYS = ("handed_off", "acknowledged", "contacted", "won", "lost", "deferred", "not_ready")
# A stage key left out of `crm.stages` falls back along this chain (e.g. deferred -> lost).
CRM_STAGE_FALLBACK = {
    "acknowledged": "handed_off", "contacted": "handed_off", "deferred": "lost", "not_ready": "lost"
}
CRM_DEFAULT_STAGES = {
    "hubspot": (("handed_off", "appointmentscheduled"), ("contacted", "qualifiedtobuy"),
                ("won", "closedwon"), ("lost", "closedlost")),
    "salesforce": (("handed_off", "Prospecting"), ("contacted", "Qualification"),
                   ("won", "Closed Won"), ("lost", "Closed Lost")),
}
WEBHOOK_EVENTS = ("handed_off", "acknowledged", "contacted", "reassigned", "escalated", "outcome")


@dataclass(frozen=True)
class Crm:
    """Where handed-off signals are written (docs/crm.md); secrets stay in the environment."""

    provider: str = "none"  # hubspot | salesforce | none
    base_url: str | None = None  # HubSpot API root; Salesforce: the instance URL
    token_env: str | None = None  # HubSpot: the variable holding the private-app token
    pipeline: str = "default"  # HubSpot deal pipeline id
    stages: tuple[tuple[str, str], ...] = ()  # signalbot stage key -> CRM stage; () = defaults
    api_version: str = "62.0"  # Salesforce REST API version
    client_id_env: str | None = None  # Salesforce client-credentials flow
    client_secret_env: str | None = None
    session_timeout: timedelta = timedelta(hours=2)  # Salesforce: token refreshed before this
    timeout: timedelta = timedelta(seconds=10)  # per HTTP request

    @property
    def enabled(self) -> bool:
        """True when a CRM is configured."""
        return self.provider in ("hubspot", "salesforce")

    @property
    def label(self) -> str:
        """The provider's name as people write it."""
        return {"hubspot": "HubSpot", "salesforce": "Salesforce"}.get(self.provider, "CRM")

    def stage(self, key: str) -> str | None:
        """The CRM stage for a signalbot stage key, following the fallbacks."""
        mapping = dict(self.stages or CRM_DEFAULT_STAGES.get(self.provider, ()))
        while key not in mapping and key in CRM_STAGE_FALLBACK:
            key = CRM_STAGE_FALLBACK[key]
        return mapping.get(key)


@dataclass(frozen=True)
class Webhook:
    """A receiver of signed JSON posts about signal events (docs/crm.md)."""

    url: str
    secret_env: str
    events: tuple[str, ...] = WEBHOOK_EVENTS
