"""The credit rules: quarters, the CSM's signal credit, the AE review flag."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from protocol.credit import (
    AeLine,
    CreditPolicy,
    Quarter,
    below_floor,
    credit_basis,
    parse_quarter,
    quarter_of,
    signal_credit,
)


def test_quarters() -> None:
    assert parse_quarter("2026Q4") == Quarter(2026, 4) == parse_quarter("2026-q4")
    assert quarter_of(date(2026, 12, 31)) == Quarter(2026, 4)
    assert quarter_of(date(2027, 1, 1)).previous == Quarter(2026, 4)
    assert Quarter(2026, 4).next.first_day == date(2027, 1, 1)
    assert Quarter(2026, 2).first_day == date(2026, 4, 1)


@pytest.mark.parametrize("text", ["2026Q5", "Q4 2026", "2026", "26Q1"])
def test_bad_quarters(text: str) -> None:
    with pytest.raises(ValueError, match="write it like 2026Q4"):
        parse_quarter(text)


def test_credit_is_a_share_of_won_arr_or_a_spiff() -> None:
    assert signal_credit(CreditPolicy(), 2, Decimal("70000")) == Decimal("17500.00")
    assert signal_credit(CreditPolicy(csm_rate=Decimal("0.3")), 1, Decimal("333.33")) == \
        Decimal("100.00")
    assert signal_credit(CreditPolicy(spiff=Decimal(1500)), 3, Decimal("1")) == Decimal("4500.00")
    assert credit_basis(CreditPolicy()) == "25% of the won expansion ARR"
    assert credit_basis(CreditPolicy(spiff=Decimal(1500))) == \
        "a fixed 1,500.00 per converted signal"


def test_an_ae_below_the_floor_on_either_clock_is_flagged() -> None:
    assert below_floor(AeLine("A", ack_met=7, ack_counted=10, contact_met=10,
                              contact_counted=10), 0.8)
    assert not below_floor(AeLine("A", ack_met=8, ack_counted=10), 0.8)
    assert not below_floor(AeLine("A"), 0.8)  # nothing decided: nothing to flag
