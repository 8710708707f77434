"""The tracking and analysis settings are validated like every other setting."""

import pytest

from emotion_core.config import Settings, load_settings
from emotion_core.errors import SettingsError


@pytest.mark.parametrize(
    "change",
    [
        {"identity_votes": 0},
        {"identity_votes": 2.5},
        {"detect_upsample": 3},
        {"detect_width": True},
        {"track_grace_s": -1.0},
        {"unknown_recheck_s": float("nan")},
        {"emotion_window_s": "long"},
        {"min_identify_face": -1},
        {"min_identify_face": 40.5},
    ],
)
def test_out_of_range_values_are_refused(change):
    with pytest.raises(SettingsError, match=next(iter(change))):
        Settings(**change)


def test_whole_numbers_stay_integers():
    settings = Settings(identity_votes=5.0, detect_width=480)
    assert settings.identity_votes == 5 and isinstance(settings.identity_votes, int)
    assert settings.detect_width == 480


def test_min_identify_face_from_the_environment():
    assert load_settings({"EMOTION_MIN_IDENTIFY_FACE": "0"}).min_identify_face == 0
    assert load_settings({}).min_identify_face == Settings().min_identify_face
    with pytest.raises(SettingsError, match="min_identify_face must be a number"):
        load_settings({"EMOTION_MIN_IDENTIFY_FACE": "wide"})
