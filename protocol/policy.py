"""The protocol's policy types: what an admin tunes, as plain data the rules take.

`bot.config` parses the YAML file into these; the rules in `protocol/` take the part they need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from typing import Any

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


DEFAULT_POLICY = "default"  # the name of the built-in policy, always the last to match


@dataclass(frozen=True)
class PolicyMatch:
    """Which hand-offs an SLA policy takes; an empty criterion matches anything.

    `teams` is the AE's team; the ARR range is [arr_min, arr_max) on the signal's estimated ARR
    (a hand-off with no estimate matches no range); `plans` and `segments` are the account's in
    the registry, compared ignoring case (an account with none matches no list).
    """

    teams: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    arr_min: float | None = None
    arr_max: float | None = None
    plans: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class HandOff:
    """What an SLA policy is matched against: one hand-off as the policies see it."""

    urgency: str
    team: str | None = None
    arr: float | None = None
    plan: str | None = None
    segment: str | None = None


@dataclass(frozen=True)
class SlaPolicy:
    """What the SLA clocks follow: a window per urgency, reminder points, escalation repeats.

    `name` is what the card, App Home and the digest show; `match` which hand-offs it takes.
    A clock keeps the policy it started under (`snapshot` / `from_snapshot`).
    """

    windows: Mapping[str, SlaWindow]
    reminders: tuple[float, ...]
    escalation_repeat: timedelta | None  # None: one more ack window of the urgency
    business_hours: BusinessHours
    name: str = DEFAULT_POLICY
    match: PolicyMatch = PolicyMatch()

    def snapshot(self) -> dict[str, Any]:
        """The policy as JSON-ready data, stored on each clock it starts (no `match`)."""
        hours = self.business_hours
        return {
            "name": self.name,
            "windows": {u: {k: _seconds(getattr(w, k)) for k in ("ack", "contact", "review")}
                        for u, w in self.windows.items()},
            "reminders": list(self.reminders),
            "escalation_repeat": _seconds(self.escalation_repeat),
            "business_hours": {
                "enabled": hours.enabled, "days": list(hours.days),
                "start": hours.start.isoformat("minutes"), "end": hours.end.isoformat("minutes"),
                "holidays": sorted(d.isoformat() for d in hours.holidays),
                "country": hours.country, "subdivision": hours.subdivision,
            },
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> SlaPolicy:
        """The policy a clock stored; its country's public holidays are resolved by the caller."""
        hours = data["business_hours"]
        return cls(
            name=data["name"],
            windows={u: SlaWindow(**{k: _delta(v) for k, v in w.items()})
                     for u, w in data["windows"].items()},
            reminders=tuple(data["reminders"]),
            escalation_repeat=_delta(data["escalation_repeat"]),
            business_hours=BusinessHours(
                enabled=hours["enabled"], days=tuple(hours["days"]),
                start=time.fromisoformat(hours["start"]), end=time.fromisoformat(hours["end"]),
                holidays=frozenset(date.fromisoformat(d) for d in hours["holidays"]),
                country=hours["country"], subdivision=hours["subdivision"],
            ),
        )

    def with_hours(self, hours: BusinessHours) -> SlaPolicy:
        """The same policy on other business hours (a person's own calendar)."""
        return replace(self, business_hours=hours)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe(policy: SlaPolicy) -> dict[str, str]:
    """The policy in words, for `admin show`: what it matches, its windows, its calendar."""
    m = policy.match
    parts = [f"team {', '.join(m.teams)}" if m.teams else "",
             f"urgency {', '.join(m.urgencies)}" if m.urgencies else "",
             _arr_words(m.arr_min, m.arr_max),
             f"plan {', '.join(m.plans)}" if m.plans else "",
             f"segment {', '.join(m.segments)}" if m.segments else ""]
    windows = "; ".join(
        f"{u} " + "/".join(f"{k} {_short(getattr(w, k))}" for k in ("ack", "contact", "review")
                           if getattr(w, k))
        for u, w in policy.windows.items())
    hours = policy.business_hours
    calendar = "calendar time"
    if hours.enabled:
        days = ",".join(_DAYS[d] for d in hours.days)
        calendar = f"{days} {hours.start:%H:%M}-{hours.end:%H:%M}"
        holidays = [hours.calendar_label or ""]
        if hours.holidays:
            holidays.append(f"{len(hours.holidays)} extra date(s)")
        if any(holidays):
            calendar += ", holidays " + " + ".join(h for h in holidays if h)
    reminders = ", ".join(f"{r:g}" for r in policy.reminders) or "none"
    repeat = _short(policy.escalation_repeat) if policy.escalation_repeat else "one ack window"
    return {"name": policy.name, "match": "; ".join(p for p in parts if p) or "every hand-off",
            "windows": windows, "hours": calendar,
            "steps": f"reminders at {reminders}; escalation climbs after {repeat}"}


def _arr_words(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"ARR >= {low:,.0f}"
    if low is None:
        return f"ARR < {high:,.0f}"
    return f"ARR {low:,.0f} to <{high:,.0f}"


def _short(delta: timedelta | None) -> str:
    seconds = int(delta.total_seconds()) if delta else 0
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else delta.total_seconds()


def _delta(seconds: float | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)


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
