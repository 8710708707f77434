"""`LiveSession`: thread-safe emotion counts, confidence scores and snapshots for one viewer.

The frame thread calls `observe`; the page calls `snapshot`, `start_counting`, `stop_counting`.
While counting, every tracked face contributes one observation per sampling period, so counts
depend on elapsed time, not on how many frames get processed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

from .analyzer import AnalyzedFace
from .config import Settings
from .store import EmotionLog


@dataclass(frozen=True)
class PersonStats:
    """Counts and score of one person (or of everyone, for the overall figures)."""

    name: str
    counts: Mapping[str, int]     # label -> n, every label in LABELS present (0 if none)
    total: int
    points: float
    score: float | None


@dataclass(frozen=True)
class FinalScores:
    """The frozen result of one counting period."""

    session_id: int | None
    started_at: float             # unix time
    ended_at: float
    people: tuple[PersonStats, ...]
    overall_score: float | None
    overall_points: float
    total: int


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of a live session's state, safe to render at leisure."""

    counting: bool
    session_id: int | None
    started_at: float | None      # unix time counting started (None when not counting)
    people: tuple[PersonStats, ...]   # current/last counting period, sorted by name
    overall_score: float | None
    overall_points: float
    total: int
    faces: tuple[AnalyzedFace, ...]   # latest frame's faces
    fps: float                        # processed frames per second, recent window
    frames: int                       # frames processed since creation
    timeline: tuple[tuple[float, str, float], ...]  # (unix time, person or "Overall", score) points, bounded length
    final: FinalScores | None         # set when counting stops; cleared when counting starts again
    store_error: str | None           # last database failure, None when healthy


class LiveSession:
    """The live state of one viewer: latest faces, fps, and counts while counting is on."""

    def __init__(self, settings: Settings, log: EmotionLog | None = None, model_name: str | None = None) -> None:
        raise NotImplementedError

    def start_counting(self, now: float | None = None) -> None:
        """Start a new counting period (and a logged session) at `now` (unix time; default: now)."""
        raise NotImplementedError

    def stop_counting(self, now: float | None = None) -> FinalScores | None:
        """Stop counting, freeze and store the final scores; None if counting was off."""
        raise NotImplementedError

    def observe(self, faces: Sequence[AnalyzedFace], timestamp: float) -> None:
        """Take the faces of the frame at `timestamp` (unix time); count them when due."""
        raise NotImplementedError

    def record_frame(self, timestamp: float) -> None:
        """Count one processed frame at `timestamp` for the fps figure (`observe` does this)."""
        raise NotImplementedError

    def update_settings(self, *, sample_period: float | None = None, weights: Mapping[str, float] | None = None,
                        count_unknown: bool | None = None) -> None:
        """Change counting settings; they apply from the next observation on."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget the in-memory counts (after "delete all records"); counting, if on, restarts."""
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        """An immutable copy of the current state."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop counting if on and flush the log."""
        raise NotImplementedError
