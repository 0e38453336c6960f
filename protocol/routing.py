"""Ownership by deal size: who closes a signal of a given estimated ARR."""

from __future__ import annotations

from decimal import Decimal

from protocol.policy import Routing


def ownership(routing: Routing, est_arr: Decimal | None) -> str:
    """'cs_led' (the CSM closes, no AE paged), 'joint' (AE and CSM co-own) or 'ae'."""
    if not routing.enabled or est_arr is None:
        return "ae"
    if routing.cs_led_below is not None and est_arr < Decimal(str(routing.cs_led_below)):
        return "cs_led"
    if routing.joint_at_or_above is not None and est_arr >= Decimal(str(routing.joint_at_or_above)):
        return "joint"
    return "ae"
