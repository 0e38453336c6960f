"""Load what the trigger rules need of a batch of accounts, in one query for all their events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from protocol.triggers import AccountData, Attempt, Reading, UsagePoint
from storage.models import ProductEvent

REGISTRY = (
    "health",
    "feature_adoption",
    "open_support",
    "support_resolved_on",
    "contract_start",
    "renewal_date",
    "seats",
    "cycle_months",
)


def snapshots(session: Session, accounts: Iterable[Any]) -> dict[int, AccountData]:
    """Each account's registry entry and product data, as `protocol.triggers` reads it.

    `accounts` are Account objects or rows with its `id` and `REGISTRY` columns. Usage keeps
    one value per metric and billing cycle (the last one received wins); the limit is the
    event's own, else the account's limit for that metric.
    """
    found = {
        a.id: (a, AccountData(name=a.name, **{k: getattr(a, k) for k in REGISTRY}))
        for a in accounts
    }
    if not found:
        return {}
    ids = list(found)
    cycles: dict[tuple[int, str], dict] = defaultdict(dict)
    usage = (
        ProductEvent.account_id,
        ProductEvent.name,
        ProductEvent.value,
        ProductEvent.limit_value,
        ProductEvent.period_end,
    )
    for account_id, metric, value, limit, end in session.execute(
        select(*usage)
        .where(ProductEvent.account_id.in_(ids), ProductEvent.type == "usage")
        .order_by(ProductEvent.id)
    ):
        limit = limit or (found[account_id][0].limits or {}).get(metric)
        cycles[(account_id, metric)][end] = UsagePoint(end, value, limit)
    others = (
        ProductEvent.account_id,
        ProductEvent.type,
        ProductEvent.name,
        ProductEvent.value,
        ProductEvent.seats,
        ProductEvent.actor,
        ProductEvent.at,
    )
    for account_id, kind, name, value, seats, actor, at in session.execute(
        select(*others).where(
            ProductEvent.account_id.in_(ids),
            ProductEvent.type.in_(("active_users", "gated_feature")),
        )
    ):
        data = found[account_id][1]
        if kind == "active_users":
            data.readings.append(Reading(at, value, seats))
        else:
            data.attempts.append(Attempt(at, name, actor))
    for (account_id, metric), points in cycles.items():
        found[account_id][1].usage[metric] = [points[end] for end in sorted(points)]
    for _, data in found.values():
        data.readings.sort(key=lambda r: r.at)
        data.attempts.sort(key=lambda a: a.at)
    return {account_id: data for account_id, (_, data) in found.items()}
