"""Per-person calibration: a baseline of a person's resting face and emotions read relative to it.

A baseline is the mean of the emotion probabilities over frames of the person's resting face,
made by one emotion model. A reading `p` of a calibrated person is corrected by the smoothed
prior correction

    p'(c) ∝ (p(c) + ε) · u(c) / (b(c) + ε)

where `b` is the baseline, `ε` = `SMOOTHING` keeps near-zero probabilities comparable, and `u`
is the neutral-dominant reference `REFERENCE` (Neutral `REFERENCE_NEUTRAL`, the rest shared
evenly). The resting face itself (`p = b`) then reads `u`, that is Neutral, and a class whose
probability rises above its baseline gains on the others. docs/emotion-models.md compares it
with alternatives on the Yale faces.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .errors import EmotionCoreError
from .images import DEFAULT_MAX_PIXELS
from .labels import LABELS

if TYPE_CHECKING:
    from .emotions import EmotionModel
    from .registry import Registry

REFERENCE_NEUTRAL = 0.3
"""Probability of Neutral in the reference `u` a resting face is mapped to (each other label 0.1)."""

SMOOTHING = 0.01
"""Added to every probability and baseline value before the ratio (ε)."""

MIN_LIVE_FRAMES = 10
"""Fewest frames a baseline recorded on the Live page needs."""

DEFAULT_DURATION_S = 5.0
"""How long the Live page records a resting face (at least)."""

MAX_DURATION_FACTOR = 6
"""A recording that has not got its frames after this many times its duration fails."""

REFERENCE = np.array(
    [REFERENCE_NEUTRAL if label == "Neutral" else (1 - REFERENCE_NEUTRAL) / (len(LABELS) - 1) for label in LABELS]
)


@dataclass(frozen=True)
class Baseline:
    """A person's resting face: mean probabilities over LABELS, how many frames, when, which model."""

    mean: Mapping[str, float]
    frames: int
    recorded_at: float  # unix time
    model: str

    def vector(self) -> np.ndarray:
        """The mean probabilities in LABELS order."""
        return np.array([float(self.mean.get(label, 0.0)) for label in LABELS])

    def to_plain(self) -> dict:
        """The baseline as plain types (stored in faces.pkl)."""
        return {
            "mean": {label: float(self.mean.get(label, 0.0)) for label in LABELS},
            "frames": int(self.frames),
            "recorded_at": float(self.recorded_at),
            "model": str(self.model),
        }

    @classmethod
    def from_plain(cls, data: object) -> Baseline:
        """The baseline stored by `to_plain`; `ValueError` saying why if `data` is not one."""
        if not isinstance(data, dict) or set(data) != {"mean", "frames", "recorded_at", "model"}:
            raise ValueError("not a baseline (expected mean, frames, recorded_at, model)")
        mean, frames, recorded_at, model = data["mean"], data["frames"], data["recorded_at"], data["model"]
        if not isinstance(mean, dict) or set(mean) != set(LABELS):
            raise ValueError("baseline mean must have one probability per label")
        values = [mean[label] for label in LABELS]
        if not all(isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
            raise ValueError("baseline probabilities must be numbers in 0..1")
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            raise ValueError("baseline frames must be a positive integer")
        if not isinstance(recorded_at, float) or not math.isfinite(recorded_at):
            raise ValueError("baseline recorded_at must be a time")
        if not isinstance(model, str) or not model:
            raise ValueError("baseline model must be a name")
        return cls(dict(zip(LABELS, values)), frames, recorded_at, model)


def make_baseline(rows: Iterable[np.ndarray], model: str, recorded_at: float | None = None) -> Baseline:
    """The baseline of probability rows (over LABELS) of a resting face; `EmotionCoreError` if none."""
    matrix = np.asarray([np.asarray(row, dtype=np.float64) for row in rows])
    if matrix.size == 0:
        raise EmotionCoreError("no frames to make a baseline from")
    if matrix.ndim != 2 or matrix.shape[1] != len(LABELS) or not np.all(np.isfinite(matrix)):
        raise EmotionCoreError(f"expected probability rows over {len(LABELS)} labels, got shape {matrix.shape}")
    mean = matrix.mean(axis=0)
    mean = mean / mean.sum()
    when = time.time() if recorded_at is None else recorded_at
    return Baseline(dict(zip(LABELS, map(float, mean))), len(matrix), float(when), model)


def correct(probabilities: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Probabilities (one row or rows over LABELS) read relative to `baseline` (the prior correction)."""
    weighted = (np.asarray(probabilities, dtype=np.float64) + SMOOTHING) * (REFERENCE / (baseline + SMOOTHING))
    return weighted / weighted.sum(axis=-1, keepdims=True)


def usable_baseline(baselines: Mapping[str, Baseline], name: str, model: str | None) -> Baseline | None:
    """`name`'s baseline if it was made by the emotion model `model`, else None (read uncalibrated)."""
    baseline = baselines.get(name)
    return baseline if baseline is not None and model is not None and baseline.model == model else None


@dataclass
class _Recording:
    name: str
    started_at: float | None = None
    rows: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class RecorderState:
    """Progress of a resting-face recording, for the page."""

    name: str
    elapsed_s: float
    duration_s: float
    frames: int
    done: bool
    baseline: Baseline | None  # set once done with enough frames
    problem: str | None  # why the recording failed, None otherwise


class CalibrationRecorder:
    """Collects one person's uncalibrated probabilities for at least `duration_s` and `min_frames`.

    Fed by `LiveSession.observe` with the faces of each analysed frame, from the first frame the
    person is in view; frames where they are not, or appear more than once, add nothing. When the
    analysis is too slow to give `min_frames` within `MAX_DURATION_FACTOR` times `duration_s`, the
    recording fails.
    """

    def __init__(
        self, name: str, model: str, duration_s: float = DEFAULT_DURATION_S, min_frames: int = MIN_LIVE_FRAMES
    ) -> None:
        self.model = model
        self.duration_s = duration_s
        self.min_frames = min_frames
        self._recording = _Recording(name)
        self._state = RecorderState(name, 0.0, duration_s, 0, False, None, None)

    @property
    def state(self) -> RecorderState:
        """The current progress."""
        return self._state

    def add(self, name_rows: Iterable[tuple[str, np.ndarray | None]], timestamp: float) -> RecorderState:
        """Take one frame's (name, uncalibrated probabilities) pairs; return the progress."""
        if self._state.done:
            return self._state
        recording = self._recording
        mine = [row for name, row in name_rows if name == recording.name and row is not None]
        if len(mine) == 1:
            if recording.started_at is None:
                recording.started_at = timestamp
            recording.rows.append(np.asarray(mine[0], dtype=np.float64))
        elapsed = 0.0 if recording.started_at is None else max(0.0, timestamp - recording.started_at)
        frames = len(recording.rows)
        baseline, problem = None, None
        if elapsed >= self.duration_s and frames >= self.min_frames:
            baseline = make_baseline(recording.rows, self.model, recorded_at=time.time())
        elif elapsed >= self.duration_s * MAX_DURATION_FACTOR:
            problem = (
                f"only {frames} frames of {recording.name} in {elapsed:.0f} s "
                f"(at least {self.min_frames} needed); try again facing the camera"
            )
        done = baseline is not None or problem is not None
        self._state = RecorderState(
            recording.name, min(elapsed, self.duration_s), self.duration_s, frames, done, baseline, problem
        )
        return self._state


CALIBRATION_FPS = 5.0
"""Frames per second of video read when calibrating from a file."""


def baseline_from_files(
    registry: Registry,
    name: str,
    files: Sequence[str | Path],
    model: EmotionModel,
    tolerance: float,
    warn: Callable[[str], None],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Baseline:
    """The baseline of enrolled `name` from photos and videos of their resting face.

    In each frame the face recognised as `name` (the nearest, if several) is classified; a file
    where `name` is never found is skipped with one `warn` line. `EmotionCoreError` if `name` is
    not enrolled or no file shows them.
    """
    from .errors import ImageError, NotAnImageError, VideoError
    from .images import load_image
    from .recognition import Matcher, detect_faces, encode_faces
    from .video import open_video, read_frames

    if name not in registry.names:
        raise EmotionCoreError(f"no enrolled person named {name!r}")
    matcher = Matcher(registry, tolerance)
    rows: list[np.ndarray] = []
    for file in files:
        found = 0
        try:
            try:
                frames: Iterable[np.ndarray] = [load_image(file, max_pixels=max_pixels)]
            except NotAnImageError:
                # Only bytes in no picture format are tried as a video: a picture refused for its
                # size or damage is skipped, so OpenCV never decodes what the pixel limit refused.
                try:
                    capture, info = open_video(file)
                except VideoError:
                    raise VideoError(f"{file}: neither a picture nor a video") from None
                capture.release()
                every = max(1, round(info.fps / CALIBRATION_FPS)) if info.fps > 0 else 1
                frames = (cv2.cvtColor(frame.bgr, cv2.COLOR_BGR2RGB) for frame in read_frames(file, every=every))
            for rgb in frames:
                boxes = detect_faces(rgb)
                matches = [(matcher.match(e), box) for e, box in zip(encode_faces(rgb, boxes), boxes)]
                mine = [(distance, box) for (match, distance), box in matches if match == name]
                if mine:
                    box = min(mine, key=lambda item: item[0] if item[0] is not None else np.inf)[1]
                    rows.append(model.predict(rgb, [box])[0])
                    found += 1
        except (ImageError, VideoError) as exc:
            warn(f"warning: {exc}; skipped")
            continue
        if not found:
            warn(f"warning: {file}: no face of {name} found; skipped")
    if not rows:
        raise EmotionCoreError(f"no usable frame of {name} in {len(files)} file(s); nothing stored")
    return make_baseline(rows, model.name)
