"""Short test videos cut from the real clip in ../shared/data, re-encoded to a temporary file."""

from __future__ import annotations

from pathlib import Path

from emotion_core.annotate import AnnotatedVideo
from emotion_core.video import open_video, read_frames
from tests.data import HAMILTON


def short_clip(target: Path, seconds: float, source: Path = HAMILTON) -> Path:
    """The first `seconds` of `source` as an H.264 MP4 at `target` (never committed)."""
    capture, info = open_video(source)
    capture.release()
    with AnnotatedVideo(target, info.width, info.height, info.fps) as out:
        for frame in read_frames(source):
            if frame.timestamp >= seconds:
                break
            out.write(frame.bgr, frame.timestamp)
    return target
