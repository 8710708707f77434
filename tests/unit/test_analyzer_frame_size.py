"""Boxes kept between detections never outlive a change of frame size (a WebRTC stream changes
resolution when its bandwidth drops)."""

import cv2
import pytest

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import Settings
from emotion_core.images import load_image
from emotion_core.registry import Registry
from tests.data import photos


@pytest.mark.requires_data
def test_a_smaller_frame_is_detected_again_not_given_the_old_boxes() -> None:
    bgr = cv2.cvtColor(cv2.resize(load_image(photos("barack_obama")[1]), (640, 480)), cv2.COLOR_RGB2BGR)
    analyzer = FrameAnalyzer(Registry(), None, Settings(detect_period_s=1.0))
    [large] = analyzer.analyze(bgr, 0.0)
    [small] = analyzer.analyze(cv2.resize(bgr, (320, 240)), 0.1)  # within the detection period
    top, right, bottom, left = small.box
    assert 0 <= left < right <= 320 and 0 <= top < bottom <= 240
    assert abs(right - large.box[1] / 2) < 20 and abs(bottom - large.box[2] / 2) < 20
