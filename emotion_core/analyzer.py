"""`FrameAnalyzer`: a video frame in, the tracked, named faces with their emotions out."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np

from .boxes import Box, scale_box
from .calibration import correct, usable_baseline
from .config import Settings, validate_tolerance
from .detectors import FaceDetector, load_detector
from .emotions import EmotionModel
from .images import validate_frame
from .labels import LABELS, UNKNOWN
from .recognition import Matcher, encode_faces
from .registry import Registry
from .tracking import Track, Tracker
from .visitors import VisitorBook


@dataclass(frozen=True)
class AnalyzedFace:
    """One face of a frame: its track, box, identity and smoothed emotion probabilities."""

    track_id: int
    box: Box  # (top, right, bottom, left) in the ORIGINAL frame's pixels
    name: str  # enrolled name, a visitor label ("Visitor 1") or labels.UNKNOWN
    distance: float | None
    scores: Mapping[str, float] | None  # smoothed probabilities over LABELS; None without a model
    raw_scores: Mapping[str, float] | None = None  # before calibration; None when not calibrated
    encoding: tuple[float, ...] | None = None  # the face encoding computed on this frame, if any

    @property
    def calibrated(self) -> bool:
        """Whether `scores` are read relative to the person's baseline."""
        return self.raw_scores is not None

    @property
    def raw_emotion(self) -> str | None:
        """The most probable emotion before calibration, None without a model."""
        scores = self.raw_scores if self.raw_scores is not None else self.scores
        return max(scores, key=scores.__getitem__) if scores else None

    def __reduce__(self) -> tuple[object, ...]:
        # Faces cross from the analysis process to the page's; a mapping proxy does not pickle.
        values = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        for key in _SCORE_FIELDS:
            if values[key] is not None:
                values[key] = dict(values[key])
        return _rebuild_face, (values,)

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
        return None if emotion is None or self.scores is None else float(self.scores[emotion])


_SCORE_FIELDS = ("scores", "raw_scores")


def _rebuild_face(values: dict[str, object]) -> AnalyzedFace:
    for key in _SCORE_FIELDS:
        scores = values[key]
        if isinstance(scores, dict):
            values[key] = MappingProxyType(scores)
    return AnalyzedFace(**values)  # type: ignore[arg-type]


class FrameAnalyzer:
    """Detects faces on a downscaled frame, tracks them, names each track and smooths its emotions.

    Encodings are computed only for tracks that are new, still voting or due for a re-check (at
    most one re-check per frame); the emotion model runs once per frame over all faces. Faces
    narrower than `settings.min_identify_face` are tracked but neither identified nor read: they
    keep their track's name (Unknown unless it was identified while large enough) and carry no
    emotion, so they are not counted.
    Use one instance from one thread; `set_registry` and `set_tolerance` may be called from another.
    """

    def __init__(
        self,
        registry: Registry,
        emotion_model: EmotionModel | None,
        settings: Settings,
        detector: FaceDetector | None = None,
    ) -> None:
        self.settings = settings
        self.emotion_model = emotion_model
        # Frames are downscaled to detect_width before detection, so the detector itself does not.
        self.detector = detector or load_detector(
            settings.detector, settings.models_dir, max_side=None, upsample=settings.detect_upsample
        )
        self._tracker = Tracker(settings.track_grace_s, settings.identity_votes)
        self._visitors = VisitorBook()
        self._matcher = _nearest_matcher(registry)
        self._tolerance = settings.tolerance
        self._pending_registry: Registry | None = None
        self._pending_tolerance: float | None = None
        self._boxes: list[Box] = []
        self._detected_at: float | None = None
        self._detected_shape: tuple[int, ...] = ()

    def analyze(self, bgr: np.ndarray, timestamp: float) -> list[AnalyzedFace]:
        """The faces in a BGR uint8 frame taken at `timestamp` (seconds, increasing)."""
        validate_frame(bgr)
        self._apply_pending()
        # Boxes are kept between detections only for frames of the size they were found in (a
        # WebRTC stream changes resolution when bandwidth drops).
        if (
            self._detected_at is None
            or bgr.shape != self._detected_shape
            or not 0 <= timestamp - self._detected_at < self.settings.detect_period_s
        ):
            self._boxes, self._detected_at, self._detected_shape = self._detect(bgr), timestamp, bgr.shape
        tracks = self._tracker.update(self._boxes, timestamp)
        # Faces too small to identify or read are tracked and drawn only (Settings.min_identify_face).
        readable = [track for track in tracks if track.box[1] - track.box[3] >= self.settings.min_identify_face]
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if readable else None
        encodings = self._identify(rgb, readable, timestamp)
        if self.emotion_model is not None and rgb is not None:
            due = [track for track in readable if track.emotion_due(timestamp, self.settings.emotion_period_s)]
            if due:
                rows = self.emotion_model.predict(rgb, [track.box for track in due])
                for track, row in zip(due, rows):
                    track.add_emotions(timestamp, row, self.settings.emotion_window_s)
        faces = []
        for track in tracks:
            name = track.name
            if track not in readable:
                faces.append(AnalyzedFace(track.id, track.box, name, track.distance, None))
                continue
            if name == UNKNOWN:
                name = self._visitors.label(track.id, encodings.get(track.id), self._tolerance)
            scores, raw = self._emotions(track)
            encoding = encodings.get(track.id)
            faces.append(
                AnalyzedFace(
                    track.id,
                    track.box,
                    name,
                    track.distance,
                    scores,
                    raw,
                    None if encoding is None else tuple(map(float, encoding)),
                )
            )
        # Tracks missed in this frame but not ended (grace period) keep their visitor label.
        self._visitors.keep_tracks(track.id for track in self._tracker.tracks if track.name == UNKNOWN)
        return faces

    def _emotions(self, track: Track) -> tuple[Mapping[str, float] | None, Mapping[str, float] | None]:
        """(scores, raw scores): the smoothed probabilities, read relative to the person's
        baseline when they have one made by this model (raw scores None otherwise)."""
        if self.emotion_model is None:
            return None, None
        smoothed = track.smoothed_emotions()
        baseline = usable_baseline(self._matcher.registry.baselines, track.name, self.emotion_model.name)
        scores = MappingProxyType(dict(zip(LABELS, map(float, smoothed))))
        if baseline is None:
            return scores, None
        return MappingProxyType(dict(zip(LABELS, map(float, correct(smoothed, baseline.vector()))))), scores

    def _apply_pending(self) -> None:
        registry, self._pending_registry = self._pending_registry, None
        tolerance, self._pending_tolerance = self._pending_tolerance, None
        if registry is not None:
            self._matcher = _nearest_matcher(registry)
            self._tracker.reset_identities()
        if tolerance is not None:
            self._tolerance = tolerance
            for track in self._tracker.tracks:
                track.decide(tolerance)

    def _detect(self, bgr: np.ndarray) -> list[Box]:
        height, width = bgr.shape[:2]
        scale = min(1.0, self.settings.detect_width / width)
        small = (
            bgr
            if scale == 1.0
            else cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        )
        found = self.detector.detect(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        return [scale_box(face.box, 1.0 / scale, (height, width)) for face in found]

    def _identify(self, rgb: np.ndarray | None, tracks: list[Track], now: float) -> dict[int, np.ndarray]:
        """Recognise the tracks due for it; return the encodings computed, by track id."""
        if not tracks or rgb is None:
            return {}
        recheck, unknown_recheck = self.settings.identity_recheck_s, self.settings.unknown_recheck_s
        voting = [t for t in tracks if not t.established]
        due = sorted(
            (t for t in tracks if t.established and t.identity_due(now, recheck, unknown_recheck)),
            key=lambda t: t.checked_at or 0.0,
        )
        # One re-check per frame spreads the cost of established tracks over frames.
        chosen = voting + due[:1]
        if not chosen:
            return {}
        # Encoded even with nobody enrolled: strangers are told apart by their encodings.
        encodings = encode_faces(rgb, [track.box for track in chosen], detector=self.detector)
        for track, encoding in zip(chosen, encodings):
            track.add_vote(*self._matcher.match(encoding), now, self._tolerance)
        return {track.id: encoding for track, encoding in zip(chosen, encodings)}

    def set_registry(self, registry: Registry) -> None:
        """Use `registry` from the next frame on; every track is identified again."""
        self._pending_registry = registry

    def set_tolerance(self, tolerance: float) -> None:
        """Use a new recognition tolerance from the next frame on."""
        self._pending_tolerance = validate_tolerance(tolerance)


def _nearest_matcher(registry: Registry) -> Matcher:
    # Votes keep the nearest name and its distance; the tolerance is applied when deciding, so a
    # tolerance change takes effect without new encodings.
    return Matcher(registry, math.inf)
