"""The signal catalogue and the urgencies."""

from __future__ import annotations

import pytest

from protocol.catalogue import (
    CATEGORIES,
    URGENCIES,
    URGENCY_EMOJI,
    URGENCY_NAMES,
    Urgency,
    category_label,
    kind_label,
    split_type,
)


def test_split_type_knows_every_kind_and_refuses_the_rest():
    for category, (_, kinds) in CATEGORIES.items():
        for kind in kinds:
            assert split_type(f"{category}:{kind}") == (category, kind)
    for bad in ("product", "product:", "nope:seat_utilisation", "product:made_up", ""):
        with pytest.raises(ValueError):
            split_type(bad)


def test_labels_fall_back_to_the_raw_key():
    assert kind_label("product", "seat_utilisation") == "Seat utilisation high"
    assert kind_label("product", "unknown") == "unknown"
    assert category_label("relationship") == "Relationship"
    assert category_label("other") == "other"


def test_one_list_of_urgencies():
    assert URGENCIES == ("hot", "warm", "watch")
    assert set(URGENCY_NAMES) == set(URGENCY_EMOJI) == set(Urgency)
    assert "hot" in URGENCIES and Urgency.HOT == "hot"
