"""The `credit` section: the CSM's signal credit, the AE review floor, the RevOps channel."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from bot.config.sections_team import _CHANNEL_ID
from bot.config.yaml_source import _Node
from protocol.credit import CreditPolicy

_KEYS = ("csm_rate", "spiff", "attainment_floor", "channel")


def _parse_credit(top: _Node) -> dict[str, Any]:
    node = top.child("credit", _KEYS)
    if node is None:
        return {}
    rate = _amount(node, "csm_rate", CreditPolicy.csm_rate)
    if not Decimal(0) <= rate <= Decimal(1):
        node.fail("csm_rate", f"{rate} is not a share between 0 and 1 (0.25 is 25%)")
    spiff = _amount(node, "spiff", None)
    if spiff is not None and spiff < 0:
        node.fail("spiff", "must not be negative")
    floor = node.get("attainment_floor", (int, float), CreditPolicy.attainment_floor)
    if not 0 <= floor <= 1:
        node.fail("attainment_floor", f"{floor} is not a share between 0 and 1 (0.8 is 80%)")
    channel = node.get("channel", str)
    if channel is not None and not _CHANNEL_ID.fullmatch(channel):
        node.fail("channel", f"{channel!r} is not a channel id like C0123ABCD")
    return {"credit": CreditPolicy(csm_rate=rate, spiff=spiff, attainment_floor=float(floor),
                                   channel=channel)}


def _amount(node: _Node, name: str, default: Decimal | None) -> Any:
    value = node.get(name, (int, float, str), None)
    if value is None:
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        node.fail(name, f"{value!r} is not a number")
    if not number.is_finite():
        node.fail(name, f"{value!r} is not a number")
    return number
