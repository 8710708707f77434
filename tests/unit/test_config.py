"""Settings: defaults, environment overrides, and refusal of every out-of-range value."""

from __future__ import annotations

import dataclasses
import math

import pytest

from emotion_core.config import (
    DEFAULT_WEIGHTS,
    PROJECT_ROOT,
    SAMPLE_PERIOD_RANGE,
    TOLERANCE_RANGE,
    WEIGHT_RANGE,
    Settings,
    load_settings,
)
from emotion_core.errors import SettingsError
from emotion_core.labels import LABELS


def test_defaults_are_valid_and_local():
    settings = load_settings({})
    assert settings.faces_path == PROJECT_ROOT / "faces.pkl"
    assert settings.db_url.startswith("sqlite:///") and settings.db_url.endswith("emotions.db")
    assert TOLERANCE_RANGE[0] <= settings.tolerance <= TOLERANCE_RANGE[1]
    assert set(settings.weights) == set(LABELS)
    assert settings.ice_servers == ()  # nothing leaves the machine unless configured


def test_environment_overrides(tmp_path):
    settings = load_settings(
        {
            "EMOTION_FACES": str(tmp_path / "f.pkl"),
            "EMOTION_DB_URL": "sqlite:///x.db",
            "EMOTION_TOLERANCE": "0.45",
            "EMOTION_SAMPLE_PERIOD": "2",
            "EMOTION_WEIGHTS": '{"Sad": -2}',
            "EMOTION_COUNT_UNKNOWN": "no",
            "EMOTION_MODEL": "faceapi",
            "EMOTION_ICE_SERVERS": '[{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "c"}]',
        }
    )
    assert settings.faces_path == tmp_path / "f.pkl"
    assert settings.tolerance == 0.45 and settings.sample_period == 2.0
    assert settings.weights["Sad"] == -2.0 and settings.weights["Happy"] == DEFAULT_WEIGHTS["Happy"]
    assert settings.count_unknown is False and settings.emotion_model == "faceapi"
    assert settings.ice_servers[0]["urls"] == ["turn:turn.example.org:3478"]


def test_overrides_beat_the_environment_and_none_means_unset():
    settings = load_settings({"EMOTION_TOLERANCE": "0.3"}, tolerance=0.7, sample_period=None)
    assert settings.tolerance == 0.7 and settings.sample_period == Settings().sample_period


def _bad_env() -> list[tuple[str, str, str]]:
    low, high = TOLERANCE_RANGE
    period_low, period_high = SAMPLE_PERIOD_RANGE
    weight_low, weight_high = WEIGHT_RANGE
    return [
        ("EMOTION_TOLERANCE", "5", "tolerance must be between"),
        ("EMOTION_TOLERANCE", str(low - 0.01), "tolerance must be between"),
        ("EMOTION_TOLERANCE", str(high + 0.01), "tolerance must be between"),
        ("EMOTION_TOLERANCE", "-0.5", "tolerance must be between"),
        ("EMOTION_TOLERANCE", "nan", "tolerance must be between"),
        ("EMOTION_TOLERANCE", "inf", "tolerance must be between"),
        ("EMOTION_TOLERANCE", "abc", "tolerance must be a number"),
        ("EMOTION_SAMPLE_PERIOD", "0", "sampling period must be between"),
        ("EMOTION_SAMPLE_PERIOD", "-1", "sampling period must be between"),
        ("EMOTION_SAMPLE_PERIOD", str(period_low / 2), "sampling period must be between"),
        ("EMOTION_SAMPLE_PERIOD", str(period_high + 1), "sampling period must be between"),
        ("EMOTION_SAMPLE_PERIOD", "1s", "sampling period must be a number"),
        ("EMOTION_WEIGHTS", f'{{"Happy": {weight_high + 1}}}', "weight of Happy must be between"),
        ("EMOTION_WEIGHTS", f'{{"Sad": {weight_low - 1}}}', "weight of Sad must be between"),
        ("EMOTION_WEIGHTS", '{"Happy": "lots"}', "weight of Happy must be a number"),
        ("EMOTION_WEIGHTS", '{"Happy": true}', "weight of Happy must be a number"),
        ("EMOTION_WEIGHTS", '{"Happy": null}', "weight of Happy must be a number"),
        ("EMOTION_WEIGHTS", '{"Joy": 1}', "unknown emotion label"),
        ("EMOTION_WEIGHTS", "[1, 2]", "weights must be a mapping"),
        ("EMOTION_WEIGHTS", "{Happy: 1}", "not valid JSON"),
        ("EMOTION_COUNT_UNKNOWN", "maybe", "true or false"),
        ("EMOTION_MODEL", "gpt", "EMOTION_MODEL must be one of"),
        ("EMOTION_DETECTOR", "yolo", "EMOTION_DETECTOR must be one of"),
        ("EMOTION_DB_URL", "emotions.db", "not a SQLAlchemy URL"),
        ("EMOTION_ICE_SERVERS", '{"urls": "stun:x"}', "ICE servers must be a list"),
        ("EMOTION_ICE_SERVERS", '[{"url": "stun:x"}]', "urls"),
        ("EMOTION_ICE_SERVERS", "stun:x", "not valid JSON"),
    ]


@pytest.mark.parametrize("variable, value, reason", _bad_env())
def test_out_of_range_environment_is_refused(variable, value, reason):
    with pytest.raises(SettingsError, match=reason) as caught:
        load_settings({variable: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("tolerance", 0.0),
        ("tolerance", 1.5),
        ("tolerance", math.nan),
        ("tolerance", True),
        ("sample_period", 0),
        ("sample_period", 3600),
        ("weights", {"Neutral": 9}),
        ("weights", "Happy=2"),
    ],
)
def test_out_of_range_overrides_and_replace_are_refused(field, value):
    with pytest.raises(SettingsError):
        load_settings({}, **{field: value})
    with pytest.raises(SettingsError):
        Settings().replace(**{field: value})


def test_edges_of_each_range_are_accepted():
    for tolerance in TOLERANCE_RANGE:
        assert load_settings({}, tolerance=tolerance).tolerance == tolerance
    for period in SAMPLE_PERIOD_RANGE:
        assert load_settings({}, sample_period=period).sample_period == period
    extremes = {label: WEIGHT_RANGE[i % 2] for i, label in enumerate(LABELS)}
    assert dict(load_settings({}, weights=extremes).weights) == extremes


def test_settings_are_immutable():
    settings = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tolerance = 0.9  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.weights["Happy"] = 0.0  # type: ignore[index]
