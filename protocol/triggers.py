"""Triggers from product data, as pure rules: which fire for an account, and the at-risk guard.

Each rule looks at one account's data (`AccountData`) and says whether it fires, with an
`episode` that names this occurrence (the cycle a run above the threshold began, the
renewal date, ...): the same episode never fires twice. Texts are plain (escape them where
they enter mrkdwn). The usage rules live in `protocol.usage`, the readiness score in
`protocol.readiness`.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from protocol.policy import Triggers
from protocol.product_data import (
    EPS,
    MONTH_DAYS,
    AccountData,
    Attempt,
    Firing,
    Reading,
    UsagePoint,
    day,
)
from protocol.usage import consecutive, growth, projected_day, usage_ceiling, usage_trend

__all__ = [
    "MONTH_DAYS", "AccountData", "Attempt", "Firing", "Reading", "UsagePoint", "consecutive",
    "cycle_days", "evaluate", "feature_unlock", "growth", "projected_day", "renewal_window",
    "risk_reasons", "seat_capacity",
]  # fmt: skip

class TriggerState(StrEnum):
    """Where a trigger stands (a `Trigger` row)."""

    OPEN = "open"  # the CSM has it
    SNOOZED = "snoozed"  # until `snoozed_until`
    SUPPRESSED = "suppressed"  # held back: the account is at risk
    ACTED = "acted"  # a signal was logged from it
    DISMISSED = "dismissed"  # "not expansion", with a reason
    CLOSED = "closed"  # it no longer holds


LIVE = (TriggerState.OPEN, TriggerState.SNOOZED)  # still in front of (or coming back to) a CSM
LABELS = {
    "usage_ceiling": "Usage ceiling",
    "usage_trend": "Usage trend (early)",
    "seat_capacity": "Seat capacity",
    "feature_unlock": "Feature unlock",
    "renewal_window": "Renewal window",
    "at_risk": "At risk",
}
SIGNAL_TYPES = {  # the catalogue kind a logged signal starts with (None: the CSM picks)
    "usage_ceiling": ("product", "api_volume"),
    "usage_trend": ("product", "api_volume"),
    "seat_capacity": ("product", "seat_utilisation"),
    "feature_unlock": ("product", "paid_feature_request"),
    "renewal_window": None,
}


def cycle_days(data: AccountData, rules: Triggers) -> float:
    """The account's billing cycle in days."""
    return (data.cycle_months or rules.default_cycle_months) * MONTH_DAYS


def evaluate(data: AccountData, rules: Triggers, now: datetime, today: date) -> list[Firing]:
    """Every expansion trigger that holds for the account now (the at-risk guard aside)."""
    days = cycle_days(data, rules)
    found: list[Firing | None] = []
    for metric, points in sorted(data.usage.items()):
        run = consecutive(points, days) if points else []
        found.append(
            usage_ceiling(metric, run, rules, days, today)
            or usage_trend(metric, run, rules, days, today)  # the pre-signal, below the ceiling
        )
    found.append(seat_capacity(data, rules))
    found += feature_unlock(data.attempts, rules, now, today)
    found.append(renewal_window(data, rules, today))
    return [firing for firing in found if firing is not None]


def seat_capacity(data: AccountData, rules: Triggers) -> Firing | None:
    """Active users within `seat_margin` of the seats bought, or above them."""
    run: list[Reading] = []
    for reading in reversed(data.readings):
        seats = reading.seats or data.seats
        if not seats or reading.users < seats * (1 - rules.seat_margin) - EPS:
            break
        run.insert(0, reading)
    if not run:
        return None
    last = run[-1]
    seats = last.seats or data.seats
    users, share = int(last.users), last.users / seats
    if users > seats:
        text = f"{users} active users on {seats} seats: {users - seats} more than were bought."
    else:
        text = (
            f"{users} active users on {seats} seats ({share:.0%}): within "
            f"{rules.seat_margin:.0%} of the seats bought."
        )
    detail = f"Seat utilisation at {share:.0%} ({users} active users, {seats} seats)"
    return Firing(
        "seat_capacity",
        None,
        run[0].at.date().isoformat(),
        rules.urgency["seat_capacity"],
        text,
        detail,
        {"users": users, "seats": seats, "share": round(share, 4)},
    )


def feature_unlock(
    attempts: list[Attempt], rules: Triggers, now: datetime, today: date
) -> list[Firing]:
    """`unlock_attempts` attempts at one gated feature within `unlock_window` (recently)."""
    fired = []
    n, window = rules.unlock_attempts, rules.unlock_window
    for feature in sorted({a.feature for a in attempts}):
        tries = [a for a in attempts if a.feature == feature]
        last = next(
            (
                i
                for i in range(len(tries) - 1, n - 2, -1)
                if tries[i].at - tries[i - n + 1].at <= window
            ),
            None,
        )
        if last is None or now - tries[last].at > window:
            continue
        first = last - n + 1
        while first > 0 and tries[first].at - tries[first - 1].at <= window:
            first -= 1
        chain = tries[first:]
        people = len({a.user for a in chain if a.user})
        span = (chain[-1].at - chain[0].at).days
        who = f" by {people} {'person' if people == 1 else 'people'}" if people else ""
        text = (
            f"{len(chain)} attempts at the gated feature {feature}{who} in {span} days, "
            f"the last on {day(chain[-1].at.date(), today)}."
        )
        detail = f"{len(chain)} attempts at the gated feature {feature} in {span} days"
        fired.append(
            Firing(
                "feature_unlock",
                feature,
                f"{feature}:{chain[0].at.date().isoformat()}",
                rules.urgency["feature_unlock"],
                text,
                detail,
                {"attempts": len(chain), "people": people, "days": span},
            )
        )
    return fired


def renewal_window(data: AccountData, rules: Triggers, today: date) -> Firing | None:
    """The renewal between `renewal_from` and `renewal_to` away: once per renewal date."""
    if data.renewal_date is None:
        return None
    days = (data.renewal_date - today).days
    if not rules.renewal_from.days <= days <= rules.renewal_to.days:
        return None
    text = (
        f"Renewal on {day(data.renewal_date, today)}, {days} days away: talk expansion "
        "before procurement starts."
    )
    detail = f"Renewal on {data.renewal_date.isoformat()} ({days} days away)"
    return Firing(
        "renewal_window",
        None,
        data.renewal_date.isoformat(),
        rules.urgency["renewal_window"],
        text,
        detail,
        {"days": days},
    )


def risk_reasons(data: AccountData, rules: Triggers) -> list[str]:
    """Why the account is at risk (health below the bar, an open P1/P2); empty if it is not."""
    reasons = []
    if data.health is not None and data.health < rules.risk_health_below:
        reasons.append(f"health {data.health}")
    if data.open_support in rules.risk_support:
        reasons.append(f"an open {data.open_support} support issue")
    return reasons
