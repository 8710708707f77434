"""`LiveStream`: one camera stream's frames in, the latest analysis to draw out, results counted.

The frame path (`submit`, `overlay`) only hands frames to the analysis process and reads the
newest result: it never waits for analysis. Results are counted in the stream's `LiveSession`
by the time of the frame they were made from, so counts do not depend on the analysis rate.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence

import numpy as np

from .analyzer import AnalyzedFace
from .config import Settings
from .live import LiveSession
from .registry import Registry
from .stamp import stamp_pixels
from .worker import AnalysisStats, AnalysisWorker

FPS_WINDOW = 60
"""Frames the video fps figure is measured over."""


class LiveStream:
    """A camera stream: hands frames to its analysis process and keeps the latest faces to draw."""

    def __init__(self, settings: Settings, registry: Registry, model: str | None, session: LiveSession) -> None:
        self.session = session
        self._max_age = settings.overlay_max_age_s
        self._lock = threading.Lock()
        self._latest: tuple[tuple[AnalyzedFace, ...], float] = ((), 0.0)
        self._frame_times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._worker = AnalysisWorker(settings, registry, model, self._on_result)
        # bench_stamp: the stamp strip of each frame in analysis, and of the one last analysed.
        self._stamps: dict[float, np.ndarray] | None = {} if settings.bench_stamp else None
        self._analysed_stamp: np.ndarray | None = None

    def note_frame(self) -> None:
        """Count a camera frame for `video_fps` (every frame, analysed or not)."""
        with self._lock:
            self._frame_times.append(time.monotonic())

    def submit(self, bgr: np.ndarray, timestamp: float) -> bool:
        """Offer a camera frame (BGR, taken at unix time `timestamp`) to the analysis."""
        taken = self._worker.submit(bgr, timestamp)
        if taken and self._stamps is not None:
            with self._lock:
                self._stamps[timestamp] = stamp_pixels(bgr)
        return taken

    def overlay(self, now: float) -> tuple[AnalyzedFace, ...]:
        """The faces to draw on a frame taken at `now`: the latest analysis unless it is too old."""
        faces, analysed_at = self._latest
        return faces if 0 <= now - analysed_at <= self._max_age else ()

    def analysed_stamp(self) -> np.ndarray | None:
        """With the `bench_stamp` setting, the stamp strip of the frame the latest analysis was made
        from (see `emotion_core.stamp`); None otherwise."""
        return self._analysed_stamp

    def prepare(self) -> None:
        """The camera is connecting: start the analysis now rather than at the first frame."""
        self._worker.prepare()

    def analysis_idle(self) -> bool:
        """Whether the analysis would take a frame now (callers may skip preparing one otherwise)."""
        return self._worker.idle

    def video_fps(self) -> float:
        """Camera frames handled per second, over the recent window."""
        with self._lock:
            times = tuple(self._frame_times)
        if len(times) < 2 or time.monotonic() - times[-1] > 1.0:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def problem(self) -> str | None:
        """Why faces are not analysed right now, None when healthy."""
        return self._worker.problem

    def stats(self) -> AnalysisStats:
        """The analysis process's figures."""
        return self._worker.stats()

    @property
    def analysis_pid(self) -> int | None:
        """The analysis process's id while it runs."""
        return self._worker.pid

    def set_registry(self, registry: Registry) -> None:
        """Identify against `registry` from the next analysed frame on."""
        self._worker.set_registry(registry)

    def set_model(self, model: str | None, registry: Registry) -> None:
        """Analyse with emotion backend `model` and `registry` from the next frame on (tracks restart)."""
        self._worker.set_model(model, registry)

    def set_tolerance(self, tolerance: float) -> None:
        """Use a new recognition tolerance from the next analysed frame on."""
        self._worker.set_tolerance(tolerance)

    def stop(self) -> None:
        """The camera stopped: end the analysis process and forget the faces in view."""
        self._worker.stop()
        self._latest = ((), 0.0)

    def close(self) -> None:
        """Stop for good (the browser session ended)."""
        self._worker.close()
        self._latest = ((), 0.0)

    def _on_result(self, faces: Sequence[AnalyzedFace], timestamp: float) -> None:
        if self._stamps is not None:
            with self._lock:
                self._analysed_stamp = self._stamps.pop(timestamp, None)
                self._stamps = {t: pixels for t, pixels in self._stamps.items() if t > timestamp}
        self._latest = (tuple(faces), timestamp)
        self.session.observe(faces, timestamp)
