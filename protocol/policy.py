"""The protocol's policy types: what an admin tunes, as plain data the rules take.

`bot.config` parses the YAML file into these; the rules in `protocol/` take the part they need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from protocol.calendar import BusinessHours


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



@dataclass(frozen=True)
class Team:
    """A team of the config's `teams:`: its members by Slack id, optionally a Slack user group.

    A person is in at most one team (the config refuses a member listed twice). Members of
    `group` (a user group id, S...) count as the team's too, where that membership is resolved.
    """

    name: str
    members: tuple[str, ...] = ()
    group: str | None = None


@dataclass(frozen=True)
class SlaWindow:
    """The clocks one urgency runs: acknowledge and contact for Hot/Warm, review for Watch."""

    ack: timedelta | None = None
    contact: timedelta | None = None
    review: timedelta | None = None


@dataclass(frozen=True)
class SlaPolicy:
    """What the SLA clocks follow: a window per urgency, reminder points, escalation repeats."""

    windows: Mapping[str, SlaWindow]
    reminders: tuple[float, ...]
    escalation_repeat: timedelta | None  # None: one more ack window of the urgency
    business_hours: BusinessHours


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
