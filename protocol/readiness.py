"""The readiness-to-expand score (0-100), shown with its parts; a part with no data is unknown.

One playbook's composite: health, feature adoption, active users, open support, time since
contract and usage growth. Above 70: work it this quarter; 40-70: watch monthly; below 40:
fix health first (every number comes from `bot.config.Readiness`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from protocol.policy import Readiness, Tier
from protocol.product_data import MONTH_DAYS, AccountData
from protocol.usage import consecutive, growth

BANDS = {"work": "work it this quarter", "watch": "watch monthly", "fix": "fix health first"}


@dataclass(frozen=True)
class Part:
    """One part of the score: the account's figure, the points it earns (None: unknown)."""

    key: str
    label: str
    shown: str | None
    points: int | None
    best: int


@dataclass(frozen=True)
class Score:
    """The parts, their known total, what the unknown parts could add, and the band."""

    parts: tuple[Part, ...]
    total: int
    unknown: int
    band: str

    def summary(self) -> str:
        """'62/100 (watch monthly; 10 points unknown)'."""
        more = f"; {self.unknown} points unknown" if self.unknown else ""
        return f"{self.total}/100 ({BANDS[self.band]}{more})"

    def breakdown(self) -> str:
        """'health 82 → 15 · adoption 78% → 20 · usage growth unknown'."""
        return " · ".join(
            f"{p.label} unknown" if p.points is None else f"{p.label} {p.shown} → {p.points}"
            for p in self.parts
        )

    def as_dict(self) -> dict:
        """Plain data, to store with a trigger."""
        return {
            "total": self.total,
            "unknown": self.unknown,
            "band": self.band,
            "parts": [p.__dict__ for p in self.parts],
        }


def tier_points(value: float, tier: Tier) -> int:
    """Above `high` earns the high points, from `mid` up the mid points, below it nothing."""
    if value > tier.high:
        return tier.high_points
    return tier.mid_points if value >= tier.mid else 0


def score(
    data: AccountData, rules: Readiness, today: date, cycle_days: float, cycles: int
) -> Score:
    """The account's readiness score, part by part."""
    users = data.readings[-1].users if data.readings else None
    months = (today - data.contract_start).days / MONTH_DAYS if data.contract_start else None
    parts = (
        _tiered("health", "health", data.health, rules.health, str),
        _tiered(
            "adoption",
            "feature adoption",
            data.feature_adoption,
            rules.adoption,
            lambda v: f"{v:.0%}",
        ),
        _tiered("active_users", "active users", users, rules.active_users, lambda v: f"{v:.0f}"),
        _support(data, rules, today),
        _tiered(
            "tenure", "months since contract", months, rules.tenure_months, lambda v: f"{v:.0f}"
        ),
        _usage(data, rules, cycle_days, cycles),
    )
    total = sum(p.points for p in parts if p.points is not None)
    unknown = sum(p.best for p in parts if p.points is None)
    band = "work" if total > rules.work_above else "watch" if total >= rules.watch_from else "fix"
    return Score(parts, total, unknown, band)


def _tiered(key: str, label: str, value: float | None, tier: Tier, show) -> Part:
    if value is None:
        return Part(key, label, None, None, tier.high_points)
    return Part(key, label, show(value), tier_points(value, tier), tier.high_points)


def _support(data: AccountData, rules: Readiness, today: date) -> Part:
    label, best = "support", rules.support_clear
    level = data.open_support
    if level is None:
        return Part("support", label, None, None, best)
    if level != "none":
        return Part("support", label, f"{level} open", 0, best)
    resolved = data.support_resolved_on
    if resolved is not None and (today - resolved).days <= rules.support_recent_days:
        return Part(
            "support",
            label,
            f"none (one resolved {resolved.isoformat()})",
            rules.support_recent,
            best,
        )
    return Part("support", label, "none", rules.support_clear, best)


def _usage(data: AccountData, rules: Readiness, cycle_days: float, cycles: int) -> Part:
    rates = []
    for points in data.usage.values():
        recent = consecutive(points, cycle_days)[-cycles:] if points else []
        rate = growth([p.value for p in recent])
        if rate is not None:
            rates.append(rate)
    best = rules.usage_growing
    if not rates:
        return Part("usage", "usage growth", None, None, best)
    rate = sum(rates) / len(rates)
    if rate > rules.flat_band:
        points = rules.usage_growing
    else:
        points = rules.usage_flat if rate >= -rules.flat_band else 0
    return Part("usage", "usage growth", f"{rate:+.0%} a cycle", points, best)
