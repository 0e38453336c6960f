"""Ownership by deal size, and what each ownership implies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.policy import Routing
from protocol.routing import Ownership, csm_closes, owner_of, ownership, pages_ae

ON = Routing(enabled=True, cs_led_below=10_000, joint_at_or_above=100_000)


@pytest.mark.parametrize(("arr", "expected"), [
    (Decimal("9999.99"), Ownership.CS_LED),
    (Decimal("10000"), Ownership.AE),
    (Decimal("99999"), Ownership.AE),
    (Decimal("100000"), Ownership.JOINT),
    (None, Ownership.AE),
])
def test_thresholds(arr, expected):
    assert ownership(ON, arr) is expected


def test_routing_off_means_the_ae_always():
    assert ownership(Routing(), Decimal("1")) is Ownership.AE
    assert ownership(Routing(enabled=True), Decimal("1")) is Ownership.AE  # no thresholds


def test_what_each_ownership_implies():
    assert [pages_ae(o) for o in Ownership] == [True, True, False]
    assert [csm_closes(o) for o in Ownership] == [False, True, True]
    assert owner_of(Ownership.CS_LED, "csm", "ae") == "csm"
    assert owner_of(Ownership.JOINT, "csm", "ae") == "ae"
    assert owner_of("ae", "csm", "ae") == "ae"  # stored values are plain strings


def test_a_model_only_moves_up() -> None:
    from protocol.routing import MODEL_LABELS, upgrades

    assert upgrades("cs_led") == (Ownership.AE, Ownership.JOINT)
    assert upgrades("ae") == (Ownership.JOINT,)
    assert upgrades("joint") == () and upgrades("nonsense") == ()
    assert MODEL_LABELS[Ownership.AE] == "AE closes (Model B)"
