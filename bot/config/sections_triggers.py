"""The `triggers` section: product-data trigger thresholds and the readiness score."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.config.yaml_source import _NUMBER, _fail, _items, _Node
from protocol.catalogue import URGENCIES
from protocol.config import DEFAULT_CONFIG
from protocol.policy import Readiness, Tier

_TRIGGER_FIELDS: dict[str, dict[str, tuple[str, str]]] = {  # section -> key -> (field, kind)
    "": {"enabled": ("enabled", "bool"), "snooze": ("snooze", "duration"),
         "default_cycle_months": ("default_cycle_months", "count")},
    "usage_ceiling": {"share": ("ceiling_share", "fraction"), "cycles": ("ceiling_cycles", "count"),
                      "projection_cycles": ("projection_cycles", "count"),
                      "hot_within": ("ceiling_hot_within", "duration"),
                      "lead": ("ceiling_lead", "duration")},
    "usage_trend": {"growth": ("trend_growth", "fraction"), "cycles": ("trend_cycles", "count")},
    "seat_capacity": {"margin": ("seat_margin", "fraction")},
    "feature_unlock": {"attempts": ("unlock_attempts", "count"),
                       "window": ("unlock_window", "duration")},
    "renewal_window": {"from": ("renewal_from", "duration"), "to": ("renewal_to", "duration")},
    "at_risk": {"health_below": ("risk_health_below", "number")},
    "ingest": {"max_events": ("max_events", "count"), "max_body": ("max_body", "count"),
               "max_value_ratio": ("max_value_ratio", "number")},
}
_READINESS_TIERS = ("health", "adoption", "active_users", "tenure_months")
_READINESS_FIELDS = {
    "support": {"clear": "support_clear", "recent": "support_recent",
                "recent_days": "support_recent_days"},
    "usage": {"growing": "usage_growing", "flat": "usage_flat", "flat_band": "flat_band"},
    "bands": {"work_above": "work_above", "watch_from": "watch_from"},
}
_SUPPORT_PRIORITY = re.compile(r"P[0-9]")


def _parse_triggers(top: _Node) -> dict[str, Any]:
    sections = tuple(k for k in _TRIGGER_FIELDS if k) + ("readiness",)
    node = top.child("triggers", (*_TRIGGER_FIELDS[""], *sections))
    if node is None:
        return {}
    default = DEFAULT_CONFIG.triggers
    values: dict[str, Any] = {}
    urgency = dict(default.urgency)
    for name, keys in _TRIGGER_FIELDS.items():
        extra = ("urgency",) if name in urgency else ("support",) if name == "at_risk" else ()
        sub = node.child(name, (*keys, *extra)) if name else node
        if sub is None:
            continue
        for key, (attr, kind) in keys.items():
            value = _trigger_value(sub, key, kind, getattr(default, attr))
            values[attr] = value
        if "urgency" in extra:
            urgency[name] = _urgency_setting(sub, urgency[name])
        if name == "at_risk":
            values["risk_support"] = _support_levels(sub, default.risk_support)
    values["urgency"] = urgency
    values["readiness"] = _parse_readiness(node, default.readiness)
    triggers = replace(default, **values)
    if triggers.renewal_from > triggers.renewal_to:
        node.fail("renewal_window.from", "is later than renewal_window.to")
    if triggers.projection_cycles < 2:
        node.fail("usage_ceiling.projection_cycles", "needs at least 2 cycles to measure growth")
    return {"triggers": triggers}


def _trigger_value(node: _Node, key: str, kind: str, default: Any) -> Any:
    if kind == "duration":
        return node.duration(key, default)
    if kind == "bool":
        return node.get(key, bool, default)
    value = node.get(key, int if kind == "count" else _NUMBER)
    if value is None:
        return default
    if kind == "count" and value < 1:
        node.fail(key, "must be at least 1")
    if kind == "fraction" and not 0 < value <= 1:
        node.fail(key, f"{value} is not a fraction between 0 and 1 (e.g. 0.7 for 70%)")
    if value < 0:
        node.fail(key, "must not be negative")
    return value


def _urgency_setting(node: _Node, default: str) -> str:
    value = node.get("urgency", str, default)
    if value not in URGENCIES:
        node.fail("urgency", f"{value!r} is not one of {', '.join(URGENCIES)}")
    return value


def _support_levels(node: _Node, default: tuple[str, ...]) -> tuple[str, ...]:
    items = _items(node, "support", str)
    if items is None:
        return default
    for key, level in items:
        if not _SUPPORT_PRIORITY.fullmatch(level):
            _fail(node.file, key, f"{level!r} is not a support priority like P1")
    return tuple(level for _, level in items)


def _parse_readiness(node: _Node, default: Readiness) -> Readiness:
    sub = node.child("readiness", (*_READINESS_TIERS, *_READINESS_FIELDS))
    if sub is None:
        return default
    values: dict[str, Any] = {}
    for name in _READINESS_TIERS:
        tier = sub.child(name, ("high", "high_points", "mid", "mid_points"))
        if tier is not None:
            values[name] = _tier(tier, getattr(default, name))
    for name, keys in _READINESS_FIELDS.items():
        part = sub.child(name, tuple(keys))
        if part is None:
            continue
        for key, attr in keys.items():
            kinds = _NUMBER if attr == "flat_band" else int
            value = part.get(key, kinds, getattr(default, attr))
            if value < 0:
                part.fail(key, "must not be negative")
            values[attr] = value
    readiness = replace(default, **values)
    if readiness.watch_from > readiness.work_above:
        sub.fail("bands.watch_from", f"{readiness.watch_from} is above bands.work_above")
    return readiness


def _tier(node: _Node, default: Tier) -> Tier:
    high = node.get("high", _NUMBER, default.high)
    mid = node.get("mid", _NUMBER, default.mid)
    if mid > high:
        node.fail("mid", f"{mid} is above high ({high})")
    points = {k: node.get(k, int, getattr(default, k)) for k in ("high_points", "mid_points")}
    for key, value in points.items():
        if value < 0:
            node.fail(key, "must not be negative")
    return Tier(high=high, mid=mid, **points)
