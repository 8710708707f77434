"""Reading a video file frame by frame (OpenCV), with each frame's time from the container."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import VideoError

# FFmpeg prints its own complaints ("moov atom not found") on stderr; a bad file is reported once,
# as a VideoError. Set OPENCV_FFMPEG_LOGLEVEL yourself to see them.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its index in the file, its time in seconds and its BGR pixels."""

    index: int
    timestamp: float
    bgr: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video."""

    path: Path
    width: int
    height: int
    fps: float
    frame_count: int


def open_video(path: str | Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    """Open a video file; `VideoError` if it is missing, not a video, or holds no frames."""
    path = Path(path)
    if not path.exists():
        raise VideoError(f"{path}: file not found")
    if not path.is_file():
        raise VideoError(f"{path}: not a file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{path}: not a video file (cannot be decoded)")
    info = VideoInfo(
        path,
        int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
        int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
    )
    if info.width <= 0 or info.height <= 0:
        capture.release()
        raise VideoError(f"{path}: not a video file (no picture)")
    return capture, info


def read_frames(path: str | Path, every: int = 1) -> Iterator[VideoFrame]:
    """Yield the frames of a video in order; with `every` = n only every n-th frame is decoded.

    Raises `VideoError` if the file is missing, not a video, or yields no frame at all.
    """
    if every < 1:
        raise VideoError(f"every must be at least 1, not {every}")
    capture, info = open_video(path)
    try:
        index = 0
        yielded = False
        while True:
            if index % every:
                if not capture.grab():
                    break
            else:
                ok, bgr = capture.read()
                if not ok:
                    break
                yielded = True
                yield VideoFrame(index, _timestamp(capture, index, info.fps), bgr)
            index += 1
        if not yielded:
            raise VideoError(f"{info.path}: the video has no frames")
    finally:
        capture.release()


def _timestamp(capture: cv2.VideoCapture, index: int, fps: float) -> float:
    """The decoded frame's presentation time in seconds (from its index if the container has none)."""
    milliseconds = capture.get(cv2.CAP_PROP_POS_MSEC)
    if milliseconds > 0 or index == 0 or fps <= 0:
        return max(milliseconds, 0.0) / 1000.0
    return index / fps
