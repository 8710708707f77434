"""Frame-number stamps: written into a frame, read back after compression and rescaling, copied."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import load_settings
from emotion_core.errors import SettingsError
from emotion_core.overlay import draw_faces
from emotion_core.stamp import ANALYSED, FRAME, copy_stamp, read_stamp, stamp_pixels, write_stamp


def noisy_frame(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (480, 640, 3), np.uint8), (0, 0), 3)


def degrade(bgr: np.ndarray, width: int, quality: int) -> np.ndarray:
    """`bgr` scaled to `width` (4:3) and JPEG-compressed, as a video codec and a lower resolution would."""
    small = cv2.resize(bgr, (width, width * 3 // 4), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


@pytest.mark.parametrize("number", [0, 1, 255, 1234, 65535])
@pytest.mark.parametrize(("width", "quality"), [(640, 95), (640, 30), (480, 40), (320, 30)])
def test_stamp_survives_compression_and_rescaling(number, width, quality):
    frame = noisy_frame(number)
    write_stamp(frame, number)
    assert read_stamp(degrade(frame, width, quality)) == number


def test_frame_without_stamp_reads_none():
    assert read_stamp(noisy_frame(7)) is None
    assert read_stamp(np.zeros((480, 640, 3), np.uint8)) is None


def test_numbers_wrap_at_16_bits():
    frame = noisy_frame(1)
    write_stamp(frame, 70_000)
    assert read_stamp(frame) == 70_000 % 65536


def test_copied_stamp_reads_in_the_analysed_corner_at_another_resolution():
    analysed = noisy_frame(2)
    write_stamp(analysed, 4321)
    shown = noisy_frame(3)
    write_stamp(shown, 4330)
    small = cv2.resize(shown, (320, 240), interpolation=cv2.INTER_AREA)
    copy_stamp(small, stamp_pixels(analysed))
    assert read_stamp(small, ANALYSED) == 4321
    assert read_stamp(small, FRAME) == 4330
    assert read_stamp(shown, ANALYSED) is None


def test_overlay_carries_the_analysed_frames_stamp_when_given():
    analysed, shown = noisy_frame(4), noisy_frame(5)
    write_stamp(analysed, 77)
    write_stamp(shown, 80)
    face = AnalyzedFace(1, (100, 300, 300, 100), "Someone", 0.3, None)
    stamped = shown.copy()
    draw_faces(stamped, [face], stamp_pixels(analysed))
    assert read_stamp(stamped, ANALYSED) == 77 and read_stamp(stamped, FRAME) == 80
    plain = shown.copy()
    draw_faces(plain, [face])
    assert read_stamp(plain, ANALYSED) is None


def test_bench_stamp_setting_from_the_environment():
    assert load_settings({"EMOTION_BENCH_STAMP": "1"}).bench_stamp is True
    assert load_settings({}).bench_stamp is False
    with pytest.raises(SettingsError):
        load_settings({"EMOTION_BENCH_STAMP": "maybe"})
