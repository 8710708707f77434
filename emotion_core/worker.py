"""Live face analysis in a process of its own, so the video never waits for it.

The server process receives camera frames, hands the newest one to the analysis process whenever
that process is idle (older frames are skipped, never queued), draws the latest results on every
frame and sends it back at once. Detection, encodings and emotions run in the analysis process,
under its own interpreter lock, at a lower CPU priority than the video path: the second core is
used and the video keeps the camera's rate however slow the analysis is.

Each camera stream owns one `AnalysisWorker`. Its process ends on `stop()`, after
`analysis_idle_stop_s` without frames, and when the server process goes away (its pipe closes);
if it crashes, the worker says so in `problem` and starts a new one.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any

import numpy as np

from .analyzer import AnalyzedFace, FrameAnalyzer
from .config import Settings, validate_tolerance
from .emotions import load_emotion_model
from .errors import EmotionCoreError
from .registry import Registry

logger = logging.getLogger(__name__)

PRELOAD = "emotion_core.worker_preload"
"""Imported once by the fork server, so each analysis process starts with dlib already loaded."""

RESTART_DELAYS_S = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Waits before restarting a crashed analysis process, one per crash in a row (then the last)."""

STOP_TIMEOUT_S = 3.0

_MAIN_LOCK = threading.Lock()
_EXITING = threading.Event()
# Registered after multiprocessing's own exit handler, so it runs first: the analysis processes
# multiprocessing then terminates are not mistaken for crashes and restarted.
atexit.register(_EXITING.set)

ResultCallback = Callable[[Sequence[AnalyzedFace], float], None]


@dataclass(frozen=True)
class AnalysisStats:
    """What the analysis process has done so far."""

    frames: int  # frames analysed
    busy_s: float  # seconds spent analysing them
    restarts: int  # crashes recovered from
    running: bool


@contextlib.contextmanager
def _plain_main() -> Iterator[None]:
    """Hide the `__main__` module while a process is started.

    multiprocessing re-runs the parent's main module in every child it starts (and in the fork
    server). Under Streamlit, `__main__` is the app script itself, so each analysis process would
    run the whole page; a stand-in without a file keeps the children to what they import.
    """
    with _MAIN_LOCK:
        real = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = real


def _context() -> BaseContext:
    """The fork server context, preloading the models (forking a threaded server is unsafe)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def prepare() -> None:
    """Start the fork server now, so the first camera stream does not wait for dlib to load."""
    _context()
    with _plain_main():
        multiprocessing.forkserver.ensure_running()


def _serve(
    conn: multiprocessing.connection.Connection, settings: Settings, registry: Registry, model: str | None
) -> None:
    """The analysis process: answer each frame with its analysed faces until told to stop."""
    os.nice(settings.analysis_niceness)
    emotion_model = None
    if model is not None:
        try:
            emotion_model = load_emotion_model(model, settings.models_dir)
        except EmotionCoreError as exc:
            conn.send(("error", f"no emotions: {exc}"))
    analyzer = FrameAnalyzer(registry, emotion_model, settings)
    # The first inference of a session allocates its buffers: pay for it before the first face.
    analyzer.analyze(np.zeros((120, 160, 3), np.uint8), 0.0)
    if emotion_model is not None:
        emotion_model.predict(np.zeros((112, 112, 3), np.uint8), [(0, 112, 112, 0)])
    analyzer = FrameAnalyzer(registry, emotion_model, settings, detector=analyzer.detector)
    conn.send(("ready",))
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "frame":
                _, timestamp, shape = message
                bgr = np.frombuffer(conn.recv_bytes(), np.uint8).reshape(shape)
                started = time.perf_counter()
                try:
                    faces = analyzer.analyze(bgr, timestamp)
                except EmotionCoreError as exc:
                    conn.send(("error", str(exc)))
                    continue
                conn.send(("faces", timestamp, faces, time.perf_counter() - started))
            elif kind == "registry":
                analyzer.set_registry(message[1])
            elif kind == "tolerance":
                analyzer.set_tolerance(message[1])
            elif kind == "stop":
                return
    except (EOFError, OSError):  # the server process went away
        return


class AnalysisWorker:
    """One camera stream's analysis process: the newest frame in, analysed faces out.

    `submit` never blocks: it sends a frame only when the process is idle. Results are passed to
    `on_result(faces, timestamp)` on a receiver thread, in order. Thread-safe.
    """

    def __init__(self, settings: Settings, registry: Registry, model: str | None, on_result: ResultCallback) -> None:
        self._settings = settings
        self._registry = registry
        self._model = model
        self._tolerance = settings.tolerance
        self._on_result = on_result
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._conn: multiprocessing.connection.Connection | None = None
        self._process: Any = None
        self._idle = False
        self._starting = False  # a process is being started on the "analysis-start" thread
        self._retry_at = 0.0  # after a failed start, no new one before this time.monotonic()
        self._closed = False
        self._last_submit = 0.0
        self._last_sent = 0.0
        self._frames = 0
        self._busy_s = 0.0
        self._restarts = 0
        self._crashes_in_a_row = 0
        self._problem: str | None = None
        self._stops = 0  # stop() calls so far: a restart scheduled before one is dropped

    @property
    def problem(self) -> str | None:
        """Why there is no analysis right now (a crash being recovered from), None when healthy."""
        return self._problem

    @property
    def idle(self) -> bool:
        """Whether `submit` would send a frame now (or start the process)."""
        return self._idle or (self._process is None and not self._starting)

    @property
    def pid(self) -> int | None:
        """The analysis process's id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def stats(self) -> AnalysisStats:
        """Frames analysed, time spent, restarts so far."""
        with self._lock:
            return AnalysisStats(self._frames, self._busy_s, self._restarts, self._process is not None)

    def submit(self, bgr: np.ndarray, timestamp: float) -> bool:
        """Hand `bgr` (taken at `timestamp`) to the analysis if it is idle; True if it was taken.

        Starts the process when none runs (the first frame of a stream, or after an idle stop).
        """
        now = time.monotonic()
        with self._lock:
            if self._closed:
                return False
            self._last_submit = now
            if self._process is None:
                self._launch()
                return False
            max_fps = self._settings.analysis_max_fps
            if not self._idle or self._conn is None or (max_fps and now - self._last_sent < 1.0 / max_fps):
                return False
            self._idle = False
            self._last_sent = now
            conn = self._conn
        try:
            with self._send_lock:
                conn.send(("frame", timestamp, bgr.shape))
                conn.send_bytes(np.ascontiguousarray(bgr, dtype=np.uint8).reshape(-1).data)
        except (OSError, ValueError, TypeError):  # the process just died; the receiver thread handles it
            return False
        return True

    def prepare(self) -> None:
        """Start the process now, ahead of the first frame (the camera is connecting), so that it
        has loaded its models when frames arrive; it stops as usual if none come."""
        with self._lock:
            if not self._closed and self._process is None:
                self._launch()

    def set_registry(self, registry: Registry) -> None:
        """Identify against `registry` from the next frame on."""
        self._registry = registry
        self._send(("registry", registry))

    def set_model(self, model: str | None, registry: Registry) -> None:
        """Use emotion backend `model` and `registry`: the next frame starts a new process."""
        self._model, self._registry = model, registry
        self.stop()

    def set_tolerance(self, tolerance: float) -> None:
        """Use a new recognition tolerance from the next frame on."""
        self._tolerance = validate_tolerance(tolerance)
        self._send(("tolerance", self._tolerance))

    def stop(self) -> None:
        """End the analysis process (without waiting for it); `submit` starts a new one."""
        with self._lock:
            conn, process = self._conn, self._process
            self._conn, self._process, self._idle = None, None, False
            self._stops += 1
        if conn is not None:
            try:
                with self._send_lock:
                    conn.send(("stop",))
            except (OSError, ValueError):
                pass
        if process is not None:
            threading.Thread(target=_reap, args=(process,), name="analysis-reaper", daemon=True).start()

    def close(self) -> None:
        """Stop for good: later frames are ignored."""
        with self._lock:
            self._closed = True
        self.stop()

    def _send(self, message: tuple[object, ...]) -> None:
        with self._lock:
            conn = self._conn
        if conn is None:
            return
        try:
            with self._send_lock:
                conn.send(message)
        except (OSError, ValueError):
            pass

    def _launch(self) -> None:
        """Start a process on a thread of its own unless one is starting (called with the lock
        held): forking waits for the fork server, which may still be loading dlib, and the frame
        callback must never wait."""
        if self._starting or self._closed or time.monotonic() < self._retry_at:
            return
        self._starting = True
        threading.Thread(target=self._start, args=(self._stops,), name="analysis-start", daemon=True).start()

    def _start(self, stops: int) -> None:
        """Start the analysis process and its receiver thread; `stops` is the `stop()` count when
        the start was asked for (a stop meanwhile cancels it)."""
        context = _context()
        conn, child = context.Pipe()
        with self._lock:
            settings = self._settings.replace(tolerance=self._tolerance)
            registry, model = self._registry, self._model
        process = context.Process(  # type: ignore[attr-defined]
            target=_serve, args=(child, settings, registry, model), name="emotion-analysis", daemon=True
        )
        try:
            with _plain_main():
                process.start()
        except Exception as exc:  # the fork server is gone or cannot fork: report, retry on a later frame
            logger.error("face analysis could not start: %s", exc)
            with self._lock:
                self._problem = f"face analysis could not start ({exc}); retrying"
                self._retry_at = time.monotonic() + RESTART_DELAYS_S[-1]
        finally:
            child.close()
            with self._lock:
                self._starting = False
                cancelled = self._closed or stops != self._stops or not process.pid
                if not cancelled:
                    self._conn, self._process, self._idle, self._last_sent = conn, process, False, 0.0
                    self._last_submit = max(self._last_submit, time.monotonic())
        if cancelled:
            conn.close()  # the process sees EOF and exits
            if process.pid:
                _reap(process)
            return
        threading.Thread(
            target=self._receive, args=(conn, process), name=f"analysis-results-{process.pid}", daemon=True
        ).start()

    def _receive(self, conn: multiprocessing.connection.Connection, process: Any) -> None:
        """Pass results on until the process ends; then retire it, or restart it after a crash."""
        try:
            while True:
                if not conn.poll(0.5):
                    if self._idle_too_long(process):
                        self.stop()
                    continue
                message = conn.recv()
                if message[0] == "faces":
                    _, timestamp, faces, busy = message
                    self._on_result(faces, timestamp)
                    with self._lock:
                        self._frames += 1
                        self._busy_s += busy
                        self._crashes_in_a_row = 0
                        self._problem = None
                elif message[0] == "error":
                    logger.warning("face analysis: %s", message[1])
                with self._lock:
                    if self._process is process:
                        self._idle = True
        except (EOFError, OSError):
            pass
        conn.close()
        process.join(STOP_TIMEOUT_S)
        with self._lock:
            crashed = self._process is process  # nobody asked it to stop
            if not crashed or _EXITING.is_set():
                return
            self._conn, self._process, self._idle = None, None, False
            delay = RESTART_DELAYS_S[min(self._crashes_in_a_row, len(RESTART_DELAYS_S) - 1)]
            self._crashes_in_a_row += 1
            self._restarts += 1
            self._problem = f"face analysis stopped unexpectedly (exit code {process.exitcode}); restarting"
            stops = self._stops
        logger.error("face analysis process %s ended with exit code %s; restarting", process.pid, process.exitcode)
        time.sleep(delay)
        with self._lock:
            if stops == self._stops and not self._closed and self._process is None:
                self._launch()

    def _idle_too_long(self, process: Any) -> bool:
        with self._lock:
            return (
                self._process is process and time.monotonic() - self._last_submit > self._settings.analysis_idle_stop_s
            )


def _reap(process: Any) -> None:
    process.join(STOP_TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join(STOP_TIMEOUT_S)
