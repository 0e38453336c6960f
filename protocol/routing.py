"""Ownership by deal size: who closes a signal of a given estimated ARR, and what follows."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from protocol.policy import Routing


class Ownership(StrEnum):
    """Who closes a signal."""

    AE = "ae"  # the AE closes; the CSM follows
    JOINT = "joint"  # AE and CSM co-own the close
    CS_LED = "cs_led"  # the CSM closes; no AE is paged


def ownership(routing: Routing, est_arr: Decimal | None) -> Ownership:
    """The ownership of a signal of `est_arr` under `routing` (AE when routing is off)."""
    if not routing.enabled or est_arr is None:
        return Ownership.AE
    if routing.cs_led_below is not None and est_arr < Decimal(str(routing.cs_led_below)):
        return Ownership.CS_LED
    if routing.joint_at_or_above is not None and est_arr >= Decimal(str(routing.joint_at_or_above)):
        return Ownership.JOINT
    return Ownership.AE


def pages_ae(ownership: str) -> bool:
    """True when an AE is paged and owns the clocks (everything but CS-led)."""
    return ownership != Ownership.CS_LED


def csm_closes(ownership: str) -> bool:
    """True when the CSM may close the signal (CS-led, or joint)."""
    return ownership in (Ownership.CS_LED, Ownership.JOINT)


def owner_of(ownership: str, csm_id: str | None, ae_id: str | None) -> str | None:
    """Whose signal it is to close: the CSM on a CS-led deal, else the AE."""
    return ae_id if pages_ae(ownership) else csm_id


# A deal can outgrow its model: CS-led (A) -> AE closes (B) -> joint motion (C), never back.
MODEL_LABELS = {
    Ownership.CS_LED: "CS-led (Model A)",
    Ownership.AE: "AE closes (Model B)",
    Ownership.JOINT: "Joint motion (Model C)",
}
_ORDER = (Ownership.CS_LED, Ownership.AE, Ownership.JOINT)


def upgrades(current: str) -> tuple[Ownership, ...]:
    """The models a signal owned under `current` may move up to (none from joint)."""
    try:
        return _ORDER[_ORDER.index(Ownership(current)) + 1:]
    except ValueError:
        return ()
