"""Running a video file through the live pipeline (`FrameAnalyzer` + `LiveSession`), counting throughout."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .analyzer import FrameAnalyzer
from .annotate import AnnotatedVideo
from .config import Settings
from .emotions import EmotionModel
from .errors import CancelledError
from .live import FinalScores, LiveSession
from .overlay import draw_faces
from .registry import Registry
from .store import EmotionLog, Observation
from .video import open_video, read_frames

MEMORY_DB = "sqlite://"

Progress = Callable[[float, float], None]
"""Called after each processed frame with (seconds of video analysed, the video's length in seconds)."""


@dataclass(frozen=True)
class VideoReport:
    """The result of analysing a video: final scores and every observation (times from the video's start)."""

    frames: int  # frames processed
    duration_s: float  # length of the video
    elapsed_s: float  # wall time spent decoding and processing
    final: FinalScores
    observations: tuple[Observation, ...]
    session_id: int | None  # id in the emotion log, when one was given

    @property
    def fps(self) -> float:
        """Frames processed per second of wall time."""
        return self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0


def analyze_video(
    path: str | Path,
    registry: Registry,
    emotion_model: EmotionModel | None,
    settings: Settings,
    *,
    every: int = 1,
    log: EmotionLog | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    source: str | None = None,
    annotated: str | Path | None = None,
) -> VideoReport:
    """Analyse every `every`-th frame of a video with counting on from start to end.

    The observations are logged as a session in `log` when given (times are then the wall time
    the analysis started plus the video time), with `source` (default: the file's name) in its
    settings. With `annotated`, the processed frames with their overlays are also written there
    as an H.264 MP4. When `cancel` is set the analysis stops, the logged session and the
    annotated file are deleted and `CancelledError` is raised; after any other failure nothing
    is stored either.
    """
    capture, info = open_video(path)
    capture.release()
    # The container's frame count is an estimate (webm); the length is taken from the last frame once decoded.
    estimate = info.frame_count / info.fps if info.fps > 0 and info.frame_count > 0 else 0.0
    own_log = log is None
    emotion_log = EmotionLog(MEMORY_DB) if log is None else log
    model_name = getattr(emotion_model, "name", None)
    analyzer = FrameAnalyzer(registry, emotion_model, settings)
    session = LiveSession(settings, emotion_log, model_name, detector_name=analyzer.detector.name)
    base = time.time()
    session.start_counting(now=base, source=source or Path(path).name)
    frames, last = 0, 0.0
    started = time.perf_counter()
    finished = False
    try:
        with (
            AnnotatedVideo(annotated, info.width, info.height, info.fps)
            if annotated is not None
            else contextlib.nullcontext()
        ) as writer:
            for frame in read_frames(path, every=every):
                if cancel is not None and cancel.is_set():
                    raise CancelledError(f"{Path(path).name}: analysis cancelled, nothing was stored")
                faces = analyzer.analyze(frame.bgr, base + frame.timestamp)
                session.observe(faces, base + frame.timestamp)
                if writer is not None:
                    draw_faces(frame.bgr, faces)
                    writer.write(frame.bgr, frame.timestamp)
                frames, last = frames + 1, frame.timestamp
                if progress is not None:
                    progress(last, max(estimate, last))
        elapsed = time.perf_counter() - started
        duration = last + (1 / info.fps if info.fps > 0 else 0.0)
        final = session.stop_counting(now=base + duration)
        assert final is not None  # counting was started above
        emotion_log.flush()
        rows = (
            tuple(replace(r, timestamp=r.timestamp - base) for r in emotion_log.observations(final.session_id))
            if final.session_id is not None
            else ()
        )
        finished = True
    finally:
        if not finished:
            session.discard()
        session.close()
        if own_log:
            emotion_log.close()
    return VideoReport(frames, duration, elapsed, final, rows, None if own_log else final.session_id)
