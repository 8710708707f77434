"""`FrameAnalyzer`: a video frame in, the tracked, named faces with their emotions out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .config import Settings
from .recognition import Box
from .registry import Registry

if TYPE_CHECKING:
    from .emotions import EmotionModel


@dataclass(frozen=True)
class AnalyzedFace:
    """One face of a frame: its track, box, identity and smoothed emotion probabilities."""

    track_id: int
    box: Box                      # (top, right, bottom, left) in the ORIGINAL frame's pixels
    name: str                     # enrolled name or labels.UNKNOWN
    distance: float | None
    scores: Mapping[str, float] | None   # smoothed probabilities over LABELS; None without a model

    @property
    def emotion(self) -> str | None:
        """The most probable emotion label, None without a model."""
        if not self.scores:
            return None
        return max(self.scores, key=self.scores.__getitem__)

    @property
    def probability(self) -> float | None:
        """The probability of `emotion`, None without a model."""
        emotion = self.emotion
        return None if emotion is None else float(self.scores[emotion])


class FrameAnalyzer:
    """Detects faces on a downscaled frame, tracks them, names each track and smooths its emotions.

    Use one instance from one thread; `set_registry` and `set_tolerance` may be called from another.
    """

    def __init__(self, registry: Registry, emotion_model: "EmotionModel | None", settings: Settings) -> None:
        raise NotImplementedError

    def analyze(self, bgr: np.ndarray, timestamp: float) -> list[AnalyzedFace]:
        """The faces in a BGR uint8 frame taken at `timestamp` (seconds, increasing)."""
        raise NotImplementedError

    def draw(self, bgr: np.ndarray, faces: Sequence[AnalyzedFace]) -> np.ndarray:
        """A new BGR frame with each face's box (a stable colour per name) and "name · Emotion 87%"."""
        raise NotImplementedError

    def set_registry(self, registry: Registry) -> None:
        """Use `registry` from the next frame on; every track is identified again."""
        raise NotImplementedError

    def set_tolerance(self, tolerance: float) -> None:
        """Use a new recognition tolerance from the next frame on."""
        raise NotImplementedError
