"""The tracking and analysis settings are validated like every other setting."""

import pytest

from emotion_core.config import Settings
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
    ],
)
def test_out_of_range_values_are_refused(change):
    with pytest.raises(SettingsError, match=next(iter(change))):
        Settings(**change)


def test_whole_numbers_stay_integers():
    settings = Settings(identity_votes=5.0, detect_width=480)
    assert settings.identity_votes == 5 and isinstance(settings.identity_votes, int)
    assert settings.detect_width == 480
