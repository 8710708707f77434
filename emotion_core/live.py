"""`LiveSession`: thread-safe emotion counts, confidence scores and snapshots for one viewer.

The frame thread calls `observe`; the page calls `snapshot`, `start_counting`, `stop_counting`.
While counting, every tracked face contributes one observation per sampling period, so counts
depend on elapsed time, not on how many frames get processed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from .analyzer import AnalyzedFace
from .calibration import DEFAULT_DURATION_S, CalibrationRecorder, RecorderState
from .config import Settings, validate_sample_period, validate_weights
from .labels import LABELS, is_stranger, is_visitor, listing_order
from .scoring import confidence
from .store import EmotionLog, Observation
from .visitors import RECENT_ENCODINGS

OVERALL = "Overall"
"""Name of the overall figures in the timeline."""

TIMELINE_POINTS = 2000
"""Most score points kept in the timeline (oldest dropped first)."""

CAMERA = {"kind": "camera"}
"""The `source` logged with a session counted from the camera (a video's is {"kind": "video", "name": ...})."""

FPS_WINDOW = 30
"""Processed frames the fps figure is measured over."""

CLOCK_EXPIRY_S = 60.0
"""A track's counting clock is forgotten after this long unseen (tracks end much sooner)."""


@dataclass(frozen=True)
class PersonStats:
    """Counts and score of one person (or of everyone, for the overall figures)."""

    name: str
    counts: Mapping[str, int]  # label -> n, every label in LABELS present (0 if none)
    total: int
    points: float
    score: float | None


@dataclass(frozen=True)
class FinalScores:
    """The frozen result of one counting period."""

    session_id: int | None
    started_at: float  # unix time
    ended_at: float
    people: tuple[PersonStats, ...]
    overall_score: float | None
    overall_points: float
    total: int

    def to_dict(self) -> dict:
        """The JSON form stored with a session (the emotion log keeps it in `sessions.final`).

        Shape: ``{"people": {name: {"counts": {label: n}, "total", "points", "score"}},
        "overall_score", "overall_points", "total"}``; the session and its times are columns.
        """
        return {
            "people": {
                p.name: {"counts": dict(p.counts), "total": p.total, "points": p.points, "score": p.score}
                for p in self.people
            },
            "overall_score": self.overall_score,
            "overall_points": self.overall_points,
            "total": self.total,
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], session_id: int | None, started_at: float, ended_at: float
    ) -> FinalScores:
        """Final scores from their `to_dict` form and the session's id and times."""
        people = tuple(
            PersonStats(
                name,
                MappingProxyType({label: int(stats.get("counts", {}).get(label, 0)) for label in LABELS}),
                int(stats.get("total", 0)),
                float(stats.get("points", 0.0)),
                stats.get("score"),
            )
            for name, stats in sorted(data.get("people", {}).items(), key=lambda item: listing_order(item[0]))
        )
        return cls(
            session_id,
            started_at,
            ended_at,
            people,
            data.get("overall_score"),
            float(data.get("overall_points", 0.0)),
            int(data.get("total", 0)),
        )


@dataclass(frozen=True)
class Snapshot:
    """An immutable copy of a live session's state, safe to render at leisure."""

    counting: bool
    session_id: int | None
    started_at: float | None  # unix time counting started (None when not counting)
    people: tuple[PersonStats, ...]  # current/last counting period, sorted by name
    overall_score: float | None
    overall_points: float
    total: int
    faces: tuple[AnalyzedFace, ...]  # latest frame's faces
    fps: float  # processed frames per second, recent window
    frames: int  # frames processed since creation
    timeline: tuple[tuple[float, str, float], ...]  # (unix time, person or "Overall", score) points, bounded length
    final: FinalScores | None  # set when counting stops; cleared when counting starts again
    store_error: str | None  # last database failure, None when healthy


def person_stats(name: str, counts: Mapping[str, int], weights: Mapping[str, float]) -> PersonStats:
    """Counts (completed to every label) and score of one person."""
    full = MappingProxyType({label: int(counts.get(label, 0)) for label in LABELS})
    score, points = confidence(full, weights)
    return PersonStats(name, full, sum(full.values()), points, score)


@dataclass
class _TrackClock:
    """When a tracked face is next due to be counted."""

    due: float
    seen: float


class LiveSession:
    """The live state of one viewer: latest faces, fps, and counts while counting is on.

    The lock only guards copying plain data; the frame is analysed before `observe` is called,
    and database writes are queued outside the lock.
    """

    def __init__(
        self,
        settings: Settings,
        log: EmotionLog | None = None,
        model_name: str | None = None,
        detector_name: str | None = None,
    ) -> None:
        self._log = log
        self._model_name = model_name
        # The detector in use (after any fallback); recorded with each session's settings.
        self._detector_name = detector_name or settings.detector
        self._settings = settings
        self._lock = threading.Lock()
        self._period = settings.sample_period
        self._weights = settings.weights
        self._count_unknown = settings.count_unknown
        self._source: str | None = None
        self._counting = False
        self._session_id: int | None = None
        self._started_at: float | None = None
        self._counts: dict[str, dict[str, int]] = {}
        self._clocks: dict[int, _TrackClock] = {}
        self._timeline: deque[tuple[float, str, float]] = deque(maxlen=TIMELINE_POINTS)
        self._next_timeline = 0.0
        self._final: FinalScores | None = None
        self._faces: tuple[AnalyzedFace, ...] = ()
        self._frame_times: deque[float] = deque(maxlen=FPS_WINDOW)
        self._frames = 0
        self._recorder: CalibrationRecorder | None = None
        self._visitor_encodings: dict[str, deque[tuple[float, ...]]] = {}
        self._renamed: dict[str, str] = {}  # enrolled visitor label -> their new name

    def start_counting(self, now: float | None = None, source: str | None = None) -> None:
        """Start a new counting period (and a logged session) at `now` (unix time; default: now).

        `source` names what is analysed (a video's file name); None is the camera.
        """
        now = time.time() if now is None else now
        with self._lock:
            if self._counting:
                return
            self._source = source
        session_id = self._start_log_session(now)
        with self._lock:
            self._reset_counts(now)
            self._counting = True
            self._session_id = session_id
            self._final = None

    def _start_log_session(self, now: float) -> int | None:
        if self._log is None:
            return None
        with self._lock:
            logged = {
                "sample_period": self._period,
                "weights": dict(self._weights),
                "count_unknown": self._count_unknown,
                "tolerance": self._settings.tolerance,
                "detect_width": self._settings.detect_width,
                "detector": self._detector_name,
                "source": CAMERA if self._source is None else {"kind": "video", "name": self._source},
            }
        return self._log.start_session(now, self._model_name, logged)

    def _reset_counts(self, now: float) -> None:
        self._started_at = now
        self._counts = {}
        self._clocks = {}
        self._timeline.clear()
        self._next_timeline = now

    def stop_counting(self, now: float | None = None) -> FinalScores | None:
        """Stop counting, freeze and store the final scores; None if counting was off."""
        now = time.time() if now is None else now
        with self._lock:
            if not self._counting or self._started_at is None:
                return None
            self._counting = False
            counts = {name: dict(c) for name, c in self._counts.items()}
            weights, session_id, started_at = self._weights, self._session_id, self._started_at
        people, overall = _stats(counts, weights)
        stored_id = self._log.stored_id(session_id) if self._log is not None else None
        started_at = now if started_at is None else started_at
        final = FinalScores(stored_id, started_at, now, people, overall.score, overall.points, overall.total)
        with self._lock:
            self._final = final
        if self._log is not None and session_id is not None:
            self._log.end_session(session_id, now, final.to_dict())
        return final

    def discard(self) -> None:
        """Stop counting and delete the session being logged (stored or pending): nothing is kept."""
        with self._lock:
            session_id, self._counting, self._session_id = self._session_id, False, None
            self._final = None
        if self._log is not None and session_id is not None:
            self._log.delete_session(session_id)

    def observe(self, faces: Sequence[AnalyzedFace], timestamp: float) -> None:
        """Take the faces of the frame at `timestamp` (unix time); count them when due.

        Each face is counted when first seen and then once per sampling period of its track; if
        frames were dropped, the periods that elapsed since are all counted.
        """
        rows: list[Observation] = []
        with self._lock:
            self._frames += 1
            self._frame_times.append(timestamp)
            self._faces = tuple(faces)
            self._note_visitors_and_calibration(faces, timestamp)
            if not self._counting:
                return
            for face in faces:
                name = self._renamed.get(face.name, face.name)
                emotion, probability = face.emotion, face.probability
                if emotion is None or probability is None or (is_stranger(name) and not self._count_unknown):
                    continue
                clock = self._clocks.get(face.track_id)
                if clock is None or timestamp < clock.seen:  # a new track, or time went backwards
                    times = [timestamp]
                    clock = self._clocks[face.track_id] = _TrackClock(timestamp + self._period, timestamp)
                else:
                    # Every period that ended since the last analysed frame is counted, at its own
                    # time, with the emotion seen now: counts do not depend on the analysis rate.
                    due = 0 if timestamp < clock.due else 1 + int((timestamp - clock.due) // self._period)
                    times = [min(clock.due + i * self._period, timestamp) for i in range(due)]
                    clock.due += due * self._period
                    clock.seen = timestamp
                if times:
                    person = self._counts.setdefault(name, {})
                    person[emotion] = person.get(emotion, 0) + len(times)
                    raw = face.raw_emotion if face.calibrated else None
                    rows.extend(Observation(time, name, emotion, probability, raw) for time in times)
            self._forget_old_clocks(timestamp)
            session_id = self._session_id
            if not self._next_timeline - self._period <= timestamp < self._next_timeline:
                self._next_timeline = timestamp + self._period
                people, overall = _stats(self._counts, self._weights)
                self._timeline.extend((timestamp, p.name, p.score) for p in (*people, overall) if p.score is not None)
        if rows and self._log is not None and session_id is not None:
            self._log.add_observations(session_id, rows)

    def _note_visitors_and_calibration(self, faces: Sequence[AnalyzedFace], timestamp: float) -> None:
        """Keep visitors' recent encodings and feed a running calibration (caller holds the lock)."""
        for face in faces:
            if face.encoding is not None and is_visitor(face.name) and face.name not in self._renamed:
                self._visitor_encodings.setdefault(face.name, deque(maxlen=RECENT_ENCODINGS)).append(face.encoding)
        if self._recorder is not None:
            self._recorder.add(
                ((face.name, _vector(face.raw_scores if face.calibrated else face.scores)) for face in faces), timestamp
            )

    def start_calibration(self, name: str, model: str, duration_s: float = DEFAULT_DURATION_S) -> None:
        """Record `name`'s resting face from the next frames where they are in view."""
        with self._lock:
            self._recorder = CalibrationRecorder(name, model, duration_s)

    def calibration(self) -> RecorderState | None:
        """The running or last calibration's progress (with its baseline once done), None if none."""
        with self._lock:
            return None if self._recorder is None else self._recorder.state

    def end_calibration(self) -> None:
        """Forget the calibration recording (cancelled, or its baseline was stored)."""
        with self._lock:
            self._recorder = None

    def visitor_encodings(self, label: str) -> list[tuple[float, ...]]:
        """The face encodings recently captured of visitor `label` (kept in memory only)."""
        with self._lock:
            return list(self._visitor_encodings.get(label, ()))

    def rename_visitor(self, label: str, name: str) -> None:
        """Attribute visitor `label`'s observations of this session, past and coming, to `name`."""
        with self._lock:
            self._renamed[label] = name
            self._visitor_encodings.pop(label, None)
            if label in self._counts:
                merged = self._counts.setdefault(name, {})
                for emotion, n in self._counts.pop(label).items():
                    merged[emotion] = merged.get(emotion, 0) + n
            points = [(t, name if who == label else who, score) for t, who, score in self._timeline]
            self._timeline.clear()
            self._timeline.extend(points)
            session_id = self._session_id
        if self._log is not None and session_id is not None:
            self._log.rename_person(session_id, label, name)

    def _forget_old_clocks(self, now: float) -> None:
        stale = [track for track, clock in self._clocks.items() if now - clock.seen > CLOCK_EXPIRY_S]
        for track in stale:
            del self._clocks[track]

    def update_settings(
        self,
        *,
        sample_period: float | None = None,
        weights: Mapping[str, float] | None = None,
        count_unknown: bool | None = None,
    ) -> None:
        """Change counting settings; they apply from the next observation on (scores are recomputed)."""
        period = None if sample_period is None else validate_sample_period(sample_period)
        merged = None if weights is None else validate_weights(weights)
        with self._lock:
            if period is not None:
                self._period = period
            if merged is not None:
                self._weights = merged
            if count_unknown is not None:
                self._count_unknown = bool(count_unknown)

    def clear(self) -> None:
        """Forget the in-memory counts (after "delete all records"); counting, if on, restarts."""
        now = time.time()
        with self._lock:
            counting = self._counting
        session_id = self._start_log_session(now) if counting else None
        with self._lock:
            self._reset_counts(now)
            self._final = None
            self._started_at = now if self._counting else None
            self._session_id = session_id if self._counting else None

    def snapshot(self) -> Snapshot:
        """An immutable copy of the current state."""
        with self._lock:
            counts = {name: dict(c) for name, c in self._counts.items()}
            weights, session_id = self._weights, self._session_id
            counting, started_at, final = self._counting, self._started_at, self._final
            faces, frames, timeline = self._faces, self._frames, tuple(self._timeline)
            times = tuple(self._frame_times)
        people, overall = _stats(counts, weights)
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        store_error = self._log.last_error if self._log is not None else None
        if self._log is not None and counting:
            session_id = self._log.stored_id(session_id)
        return Snapshot(
            counting,
            session_id if counting else None,
            started_at if counting else None,
            people,
            overall.score,
            overall.points,
            overall.total,
            faces,
            fps,
            frames,
            timeline,
            final,
            store_error,
        )

    def close(self) -> None:
        """Stop counting if on, flush the log and drop the visitors' encodings."""
        self.stop_counting()
        with self._lock:
            self._visitor_encodings.clear()
            self._recorder = None
        if self._log is not None:
            self._log.flush()


def _vector(scores: Mapping[str, float] | None) -> np.ndarray | None:
    return None if scores is None else np.array([scores[label] for label in LABELS])


def _stats(
    counts: Mapping[str, Mapping[str, int]], weights: Mapping[str, float]
) -> tuple[tuple[PersonStats, ...], PersonStats]:
    """Per-person stats sorted by name, and the overall stats over everyone."""
    people = tuple(person_stats(name, counts[name], weights) for name in sorted(counts, key=listing_order))
    overall: dict[str, int] = {}
    for person in counts.values():
        for label, n in person.items():
            overall[label] = overall.get(label, 0) + n
    return people, person_stats(OVERALL, overall, weights)
