"""Running a video file through the live pipeline (`FrameAnalyzer` + `LiveSession`), counting throughout."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .analyzer import FrameAnalyzer
from .config import Settings
from .emotions import EmotionModel
from .live import FinalScores, LiveSession
from .registry import Registry
from .store import EmotionLog, Observation
from .video import open_video, read_frames

MEMORY_DB = "sqlite://"


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
    progress: Callable[[int], None] | None = None,
) -> VideoReport:
    """Analyse every `every`-th frame of a video with counting on from start to end.

    The observations are logged as a session in `log` when given (times are then the wall time
    the analysis started plus the video time).
    """
    capture, info = open_video(path)
    capture.release()
    own_log = log is None
    emotion_log = EmotionLog(MEMORY_DB) if log is None else log
    model_name = getattr(emotion_model, "name", None)
    session = LiveSession(settings, emotion_log, model_name)
    analyzer = FrameAnalyzer(registry, emotion_model, settings)
    base = time.time()
    session.start_counting(now=base)
    frames, last = 0, 0.0
    started = time.perf_counter()
    try:
        for frame in read_frames(path, every=every):
            session.observe(analyzer.analyze(frame.bgr, base + frame.timestamp), base + frame.timestamp)
            frames, last = frames + 1, frame.timestamp
            if progress is not None:
                progress(frames)
        elapsed = time.perf_counter() - started
        duration = info.frame_count / info.fps if info.fps > 0 and info.frame_count > 0 else last
        final = session.stop_counting(now=base + duration)
        assert final is not None  # counting was started above
        emotion_log.flush()
        rows = (
            tuple(
                Observation(r.timestamp - base, r.person, r.emotion, r.probability)
                for r in emotion_log.observations(final.session_id)
            )
            if final.session_id is not None
            else ()
        )
    finally:
        session.close()
        if own_log:
            emotion_log.close()
    return VideoReport(frames, duration, elapsed, final, rows, None if own_log else final.session_id)
