"""The confidence formula: mean weight mapped from [-2, +2] to [0, 100]."""

import pytest

from emotion_core.config import DEFAULT_WEIGHTS
from emotion_core.scoring import confidence


@pytest.mark.parametrize(
    "label, score",
    [
        ("Happy", 100.0),
        ("Neutral", 100.0),
        ("Sad", 25.0),
        ("Angry", 0.0),
        ("Disgust", 0.0),
        ("Fear", 0.0),
        ("Surprise", 0.0),
        ("Contempt", 0.0),
    ],
)
def test_all_one_label(label, score):
    assert confidence({label: 7}, DEFAULT_WEIGHTS) == (pytest.approx(score), pytest.approx(7 * DEFAULT_WEIGHTS[label]))


def test_no_observations_has_no_score():
    assert confidence({}, DEFAULT_WEIGHTS) == (None, 0.0)
    assert confidence({"Happy": 0, "Sad": 0}, DEFAULT_WEIGHTS) == (None, 0.0)


def test_mixed_counts_use_the_mean_weight():
    # (2*3 + (-1)*1) / 4 = 1.25 -> (1.25 + 2) / 4 * 100
    score, points = confidence({"Happy": 3, "Sad": 1}, DEFAULT_WEIGHTS)
    assert points == 5.0
    assert score == pytest.approx(81.25)


def test_a_label_without_weight_counts_minus_two():
    assert confidence({"Bored": 2}, DEFAULT_WEIGHTS) == (0.0, -4.0)
    assert confidence({"Happy": 1, "Bored": 1}, {"Happy": 2.0}) == (50.0, 0.0)


def test_custom_weights():
    weights = dict(DEFAULT_WEIGHTS, Surprise=1.0)
    assert confidence({"Surprise": 4}, weights) == (75.0, 4.0)
