"""The usage rules: a metric near its limit (ceiling), steady growth below it (trend), and
when the limit will be reached at the growth of the last cycles (projection)."""

from __future__ import annotations

import math
from datetime import date, timedelta

from protocol.policy import Triggers
from protocol.product_data import EPS, Firing, UsagePoint, day


def consecutive(points: list[UsagePoint], days: float) -> list[UsagePoint]:
    """The newest points with no missing cycle between them."""
    run = points[-1:]
    for earlier in reversed(points[:-1]):
        if (run[0].period_end - earlier.period_end).days > days * 1.5:
            break
        run.insert(0, earlier)
    return run


def growth(values: list[float]) -> float | None:
    """Compound growth a cycle from the first value to the last; None if not measurable."""
    if len(values) < 2 or values[0] <= 0:
        return None
    return (values[-1] / values[0]) ** (1 / (len(values) - 1)) - 1


def projected_day(point: UsagePoint, rate: float | None, days: float) -> date | None:
    """When the metric reaches its limit at `rate` a cycle, counted from `point`'s cycle end."""
    if point.limit is None or rate is None or rate <= 0 or point.value <= 0:
        return None
    if point.value >= point.limit:
        return point.period_end
    cycles = math.log(point.limit / point.value) / math.log(1 + rate)
    return point.period_end + timedelta(days=round(cycles * days))


def usage_ceiling(
    metric: str, run: list[UsagePoint], rules: Triggers, days: float, today: date
) -> Firing | None:
    """A metric at or above `ceiling_share` of its limit for `ceiling_cycles` cycles in a row."""
    above: list[UsagePoint] = []
    for point in reversed(run):
        if not point.limit or point.value / point.limit < rules.ceiling_share - EPS:
            break
        above.insert(0, point)
    if len(above) < rules.ceiling_cycles:
        return None
    last = above[-1]
    share = last.value / last.limit
    rate = growth([p.value for p in run[-rules.projection_cycles :]])
    reach = projected_day(last, rate, days)
    urgency = rules.urgency["usage_ceiling"]
    lead = ""
    if reach is not None and (reach - today) <= rules.ceiling_hot_within:
        urgency = "hot"
    if reach is not None and reach > last.period_end:
        act_by = reach - rules.ceiling_lead
        lead = f" Talk growth planning by {day(act_by, today)}." if act_by > today else ""
    cycles = _cycle_names(above, today)
    head = f"{metric} at {share:.0%} of the limit for {len(above)} cycles ({cycles})"
    text = f"{head}; {_projection(rate, reach, last, today)}.{lead}"
    detail = f"{metric} at {share:.0%} of its limit for {len(above)} cycles"
    if reach is not None and reach > last.period_end:
        detail += f", limit reached around {day(reach)}"
    figures = {
        "share": round(share, 4),
        "cycles": len(above),
        "growth": rate,
        "reach": reach.isoformat() if reach else None,
    }
    return Firing(
        "usage_ceiling",
        metric,
        f"{metric}:{above[0].period_end.isoformat()}",
        urgency,
        text,
        detail,
        figures,
    )


def usage_trend(
    metric: str, run: list[UsagePoint], rules: Triggers, days: float, today: date
) -> Firing | None:
    """Growth of `trend_growth` or more every cycle for `trend_cycles` cycles (pre-signal)."""
    steps: list[float] = []
    for before, after in reversed(list(zip(run, run[1:], strict=False))):
        if before.value <= 0 or after.value / before.value - 1 < rules.trend_growth - EPS:
            break
        steps.insert(0, after.value / before.value - 1)
    if len(steps) < rules.trend_cycles:
        return None
    start, last = run[-len(steps) - 1], run[-1]
    rate = growth([p.value for p in run[-len(steps) - 1 :]])
    pace = ", ".join(f"{s:+.0%}" for s in steps[-rules.trend_cycles :])
    now_at = "no limit known"
    if last.limit:
        now_at = f"now at {last.value / last.limit:.0%} of the limit"
    reach = projected_day(last, rate, days)
    text = f"{metric} grew {pace} a cycle over the last {len(steps)} cycles, {now_at}"
    if reach is not None:
        text += f"; at this pace it reaches the limit around {day(reach, today)}"
    detail = f"{metric} growing {rate:+.0%} a cycle for {len(steps)} cycles ({now_at})"
    figures = {"growth": rate, "cycles": len(steps), "reach": reach.isoformat() if reach else None}
    return Firing(
        "usage_trend",
        metric,
        f"{metric}:{start.period_end.isoformat()}",
        rules.urgency["usage_trend"],
        text + ".",
        detail,
        figures,
    )


def _cycle_names(points: list[UsagePoint], today: date) -> str:
    names = [f"{p.period_end.day} {p.period_end:%b}" for p in points]
    if len(names) == 1:
        return f"the cycle ending {names[0]}"
    if len(names) > 4:
        return f"cycles ending {names[0]} to {names[-1]}"
    return f"cycles ending {', '.join(names[:-1])} and {names[-1]}"


def _projection(rate: float | None, reach: date | None, last: UsagePoint, today: date) -> str:
    if last.limit and last.value >= last.limit:
        return f"already at {last.value / last.limit:.0%} of the limit"
    if reach is None:
        return "usage is not growing, so no date is projected"
    return f"at {rate:+.0%} a cycle it reaches the limit around {day(reach, today)}"
