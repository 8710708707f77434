"""Helpers for the app tests: real camera-like frames and AppTest element lookups."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from streamlit.testing.v1 import AppTest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import load_settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog

PERSON = "Barack Obama"
PERSON_DIR = "barack_obama"
FRAME_SIZE = (640, 480)
VIDEO_TIME_BASE = Fraction(1, 90000)  # aiortc's video clock


def frame_from_photo(path: Path, size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A BGR camera-sized frame with the photo scaled to fit and centred on grey."""
    from emotion_core.images import load_image

    rgb = load_image(path)
    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized[:, :, ::-1]
    return frame


def video_frame(bgr: np.ndarray, pts: int = 0) -> av.VideoFrame:
    """An av frame as streamlit-webrtc delivers it to the callback."""
    frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
    frame.pts = pts
    frame.time_base = VIDEO_TIME_BASE
    return frame


def texts(at: AppTest) -> str:
    """All markdown, captions, headers and alerts of a page, joined (for substring checks)."""
    parts = [
        element.value
        for kind in (
            "markdown",
            "caption",
            "header",
            "subheader",
            "title",
            "error",
            "warning",
            "info",
            "success",
            "code",
        )
        for element in getattr(at, kind)
    ]
    return "\n".join(str(part) for part in parts)


def button(at: AppTest, label: str):
    """The one button labelled `label`."""
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, found {[b.label for b in at.button]}"
    return matches[0]


def labels_of(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def face(track_id: int, name: str, emotion: str) -> AnalyzedFace:
    """An analyzed face as the analyzer reports it, with `emotion` the most probable label."""
    others = 0.2 / (len(LABELS) - 1)
    return AnalyzedFace(
        track_id, (40, 140, 140, 40), name, 0.3, {label: 0.8 if label == emotion else others for label in LABELS}
    )


def record_session(db_url: str, observations: list[tuple[str, str]], start: float) -> None:
    """Count (person, emotion) observations one second apart through a real LiveSession and log."""
    log = EmotionLog(db_url)
    session = LiveSession(load_settings(environ={}, db_url=db_url), log, model_name="faceapi")
    session.start_counting(now=start)
    for index, (name, emotion) in enumerate(observations):
        session.observe([face(index, name, emotion)], start + index)
    session.stop_counting(now=start + len(observations))
    assert log.flush()
    log.close()
