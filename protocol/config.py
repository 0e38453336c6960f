"""`Config`: everything an admin tunes, as plain data (the CRM and webhooks included).

`bot.config` parses the YAML file into it; the rules take the part they need (`protocol.policy`).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from protocol.calendar import BusinessHours
from protocol.credit import CreditPolicy
from protocol.policy import (
    DEFAULT_RUBRIC,
    Routing,
    Rubric,
    SlaPolicy,
    SlaWindow,
    Team,
    Triggers,
)

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
# The stage keys a deal moved in the CRM can set on its signal (read back by polling).
POLLED_STAGE_KEYS = ("won", "lost", "contacted")
# The signal events written to the CRM and posted to webhooks (a webhook may pick some).
SYNCED_EVENTS = ("handed_off", "acknowledged", "contacted", "reassigned", "escalated", "outcome",
                 "ownership_changed")


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
    poll_interval: timedelta = timedelta(minutes=5)  # how often deals are read back

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

    def outcome_of(self, stage: str | None) -> str | None:
        """What a CRM stage means for the signal: "won", "lost", "contacted" or None.

        The reverse of `stage` for the keys an AE can reach in the CRM (`crm.stages`); a
        stage mapped to none of them (or shared with an earlier key) means nothing here.
        """
        if stage is None:
            return None
        for key in POLLED_STAGE_KEYS:
            if self.stage(key) == stage and (key != "contacted"
                                             or self.stage("handed_off") != stage):
                return key
        return None


@dataclass(frozen=True)
class Webhook:
    """A receiver of signed JSON posts about signal events (docs/crm.md)."""

    url: str
    secret_env: str
    events: tuple[str, ...] = SYNCED_EVENTS


@dataclass(frozen=True)
class Config:
    """Everything an admin tunes; defaults reproduce the protocol with no file at all."""

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    sla: dict[str, SlaWindow] = field(
        default_factory=lambda: {
            "hot": SlaWindow(ack=timedelta(hours=4), contact=timedelta(hours=24)),
            "warm": SlaWindow(ack=timedelta(hours=24), contact=timedelta(hours=72)),
            "watch": SlaWindow(review=timedelta(days=7)),
        }
    )
    reminders: tuple[float, ...] = (0.5, 0.9)
    escalation_repeat: timedelta | None = None  # None: one more ack window of the urgency
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    sweep_interval: timedelta = timedelta(seconds=30)
    sla_policies: tuple[SlaPolicy, ...] = ()  # the admin's, in order; the default comes after
    managers: dict[str, str] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    # person -> (country, subdivision or None): whose public holidays their clocks skip
    person_holidays: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    # (country, subdivision) -> its public holidays, resolved by the wiring for every calendar
    # the file names (a clock's snapshot naming another is resolved when it is read)
    calendars: Mapping[tuple[str, str | None], Container[date]] = field(
        default_factory=dict, compare=False, repr=False)
    teams: tuple[Team, ...] = ()  # in the config's order; a person is in at most one
    admins_group: str | None = None  # a Slack user group (S…) whose members are admins too
    yaml_admins: tuple[str, ...] | None = None  # `admins` as the file lists them, once a
    # group's members were merged into `admins` (protocol.groups.with_groups); else None
    group_refresh: timedelta = timedelta(minutes=15)  # how often user groups are read again
    digest_channel: str | None = None
    digest_visibility: str = "team"  # who may preview /signal digest: team | managers | admins
    account_visibility: str = "team"  # what the account type-ahead offers: team | owners
    digest_weekday: int = 0  # Monday
    digest_time: time = time(9, 0)
    rubric: Rubric = DEFAULT_RUBRIC
    watch_revisit: timedelta = timedelta(days=30)
    outcome_reminder: timedelta = timedelta(days=30)
    extension_max: timedelta = timedelta(days=7)  # the most more time a request may ask for
    routing: Routing = field(default_factory=Routing)
    triggers: Triggers = field(default_factory=Triggers)
    crm: Crm = field(default_factory=Crm)
    webhooks: tuple[Webhook, ...] = ()
    credit: CreditPolicy = field(default_factory=CreditPolicy)
    source: str | None = None  # the file it came from, for messages

    @cached_property
    def team_of_member(self) -> dict[str, str]:
        """Slack id -> the name of the team that lists them as a member."""
        return {member: team.name for team in self.teams for member in team.members}

    def team_named(self, name: str) -> Team | None:
        """The team called `name` (case-insensitive), or None."""
        return next((t for t in self.teams if t.name.casefold() == name.casefold()), None)

    @cached_property
    def sla_policy(self) -> SlaPolicy:
        """The built-in default policy (`sla`, `business_hours`, ...): the last to match."""
        return SlaPolicy(
            windows=self.sla,
            reminders=self.reminders,
            escalation_repeat=self.escalation_repeat,
            business_hours=self.business_hours,
        )

    @cached_property
    def policies(self) -> tuple[SlaPolicy, ...]:
        """Every SLA policy in matching order: the admin's `sla.policies`, then the default."""
        return (*self.sla_policies, self.sla_policy)


DEFAULT_CONFIG = Config()
