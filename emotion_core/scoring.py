"""The confidence score: emotion observations weighted and mapped to 0..100."""

from __future__ import annotations

from collections.abc import Mapping

from .config import WEIGHT_RANGE

UNLISTED_WEIGHT = -2.0
"""Weight of a label that has no entry in the weights (the original design's "every other label")."""


def weight_of(label: str, weights: Mapping[str, float]) -> float:
    """The points one observation of `label` is worth."""
    return float(weights.get(label, UNLISTED_WEIGHT))


def confidence(counts: Mapping[str, int], weights: Mapping[str, float]) -> tuple[float | None, float]:
    """(score 0..100 or None when no observations, raw points = sum of weights). Unknown labels use -2.

    The score maps the mean weight of the observations linearly from the weight range [-2, +2]
    to [0, 100]: all Happy or Neutral gives 100, all Sad 25, all Angry 0.
    """
    total = sum(counts.values())
    points = sum(count * weight_of(label, weights) for label, count in counts.items())
    if total <= 0:
        return None, 0.0
    low, high = WEIGHT_RANGE
    score = (points / total - low) / (high - low) * 100.0
    return min(max(score, 0.0), 100.0), points
