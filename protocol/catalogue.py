"""The signal catalogue: categories, specific kinds, and urgencies."""

from __future__ import annotations

from enum import StrEnum


class Urgency(StrEnum):
    """How soon Sales must act; each urgency has its SLA windows in the config."""

    HOT = "hot"
    WARM = "warm"
    WATCH = "watch"


URGENCIES = tuple(u.value for u in Urgency)
URGENCY_NAMES = {Urgency.HOT: "Hot", Urgency.WARM: "Warm", Urgency.WATCH: "Watch"}
URGENCY_EMOJI = {Urgency.HOT: ":fire:", Urgency.WARM: ":large_orange_diamond:",
                 Urgency.WATCH: ":eyes:"}

CATEGORIES: dict[str, tuple[str, dict[str, str]]] = {
    "product": (
        "Product usage",
        {
            "seat_utilisation": "Seat utilisation high",
            "api_volume": "API volume near its limit",
            "feature_adoption": "Adoption next to a paid tier",
            "paid_feature_request": "Feature request for a paid-tier capability",
            "team_onboarded_product": "New team onboarded in product",
        },
    ),
    "relationship": (
        "Relationship",
        {
            "budget_mentioned": "Champion mentions budget",
            "new_division": "New team or division",
            "org_change": "Org-chart change (e.g. new VP)",
            "m_and_a": "M&A at the customer",
        },
    ),
    "behavioral": (
        "Behavioral",
        {
            "asks_missing_features": "Asks about features they don't have",
            "competitor_mentioned": "Mentions a competitor",
            "roi_referenced": "References ROI achieved",
            "new_stakeholder": "Invites a new stakeholder",
        },
    ),
}



def kind_label(category: str, kind: str) -> str:
    """Human label of a specific kind, or the raw key if the catalogue does not know it."""
    return CATEGORIES.get(category, ("", {}))[1].get(kind, kind)


def category_label(category: str) -> str:
    """Human label of a category."""
    return CATEGORIES.get(category, (category, {}))[0]


def split_type(value: str) -> tuple[str, str]:
    """'product:seat_utilisation' -> ('product', 'seat_utilisation'); raises ValueError."""
    category, _, kind = value.partition(":")
    if category not in CATEGORIES or kind not in CATEGORIES[category][1]:
        raise ValueError(f"unknown signal type {value!r}")
    return category, kind
