"""Weighing the CSM's answers against the rubric."""

from __future__ import annotations

from protocol.policy import DEFAULT_RUBRIC, Criterion, Rubric
from protocol.qualification import evaluate


def test_three_of_four_qualifies_by_default():
    q = evaluate(DEFAULT_RUBRIC, {"budget": True, "buyer": True, "timeline": True})
    assert q.qualified and q.score == "3 of 4"
    assert [c.key for c in q.missing] == ["fit"]


def test_below_the_threshold_and_unknown_keys():
    q = evaluate(DEFAULT_RUBRIC, {"budget": True, "buyer": False, "astrology": True})
    assert not q.qualified and q.score == "1 of 4"


def test_a_custom_rubric():
    rubric = Rubric(criteria=(Criterion("a", "A"), Criterion("b", "B")), threshold=2)
    assert evaluate(rubric, {"a": True, "b": True}).qualified
    assert not evaluate(rubric, {"a": True}).qualified
