"""Qualification: does a signal meet the team's rubric before Sales gets it?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from protocol.policy import Criterion, Rubric


@dataclass(frozen=True)
class Qualification:
    """Which boxes are met and missing, and whether the threshold is reached."""

    met: tuple[Criterion, ...]
    missing: tuple[Criterion, ...]
    threshold: int

    @property
    def qualified(self) -> bool:
        """True when at least `threshold` boxes are met."""
        return len(self.met) >= self.threshold

    @property
    def score(self) -> str:
        """'3 of 4' style summary."""
        return f"{len(self.met)} of {len(self.met) + len(self.missing)}"


def evaluate(rubric: Rubric, answers: Mapping[str, bool]) -> Qualification:
    """Weigh the CSM's answers against `rubric`; unknown keys are ignored."""
    met = tuple(c for c in rubric.criteria if answers.get(c.key))
    missing = tuple(c for c in rubric.criteria if not answers.get(c.key))
    return Qualification(met=met, missing=missing, threshold=rubric.threshold)
