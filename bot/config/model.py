"""The core settings: SLA windows, the qualification rubric, routing and `Config` itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from bot.config.integrations import Crm, Triggers, Webhook
from protocol.calendar import BusinessHours

URGENCIES = ("hot", "warm", "watch")


@dataclass(frozen=True)
class SlaWindow:
    """The clocks one urgency runs: acknowledge and contact for Hot/Warm, review for Watch."""

    ack: timedelta | None = None
    contact: timedelta | None = None
    review: timedelta | None = None


@dataclass(frozen=True)
class Criterion:
    """One box of the qualification checklist."""

    key: str
    label: str
    hint: str = ""


@dataclass(frozen=True)
class Rubric:
    """The qualification checklist and how many boxes make a signal qualified."""

    criteria: tuple[Criterion, ...]
    threshold: int


@dataclass(frozen=True)
class Routing:
    """Ownership by deal size (off by default)."""

    enabled: bool = False
    cs_led_below: float | None = None
    joint_at_or_above: float | None = None


DEFAULT_RUBRIC = Rubric(
    criteria=(
        Criterion(
            "budget",
            "Budget conversation",
            "Budget availability or allocation was mentioned, not just interest",
        ),
        Criterion(
            "buyer",
            "Named buyer",
            "A specific person will own the decision, not just an enthusiast",
        ),
        Criterion("timeline", "Timeline", "The customer has a sense of when, not just openness"),
        Criterion("fit", "Product fit", "Maps to a specific SKU or capability"),
    ),
    threshold=3,
)


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
    managers: dict[str, str] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    digest_channel: str | None = None
    digest_weekday: int = 0  # Monday
    digest_time: time = time(9, 0)
    rubric: Rubric = DEFAULT_RUBRIC
    watch_revisit: timedelta = timedelta(days=30)
    outcome_reminder: timedelta = timedelta(days=30)
    routing: Routing = field(default_factory=Routing)
    triggers: Triggers = field(default_factory=Triggers)
    crm: Crm = field(default_factory=Crm)
    webhooks: tuple[Webhook, ...] = ()
    source: str | None = None  # the file it came from, for messages


_DEFAULTS = Config()
