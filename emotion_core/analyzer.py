"""`FrameAnalyzer`: a video frame in, the tracked, named faces with their emotions out."""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .boxes import Box, scale_box
from .config import Settings, validate_tolerance
from .detectors import FaceDetector, load_detector
from .emotions import EmotionModel
from .images import validate_frame
from .labels import LABELS, UNKNOWN
from .recognition import Matcher, encode_faces
from .registry import Registry
from .tracking import Track, Tracker


@dataclass(frozen=True)
class AnalyzedFace:
    """One face of a frame: its track, box, identity and smoothed emotion probabilities."""

    track_id: int
    box: Box  # (top, right, bottom, left) in the ORIGINAL frame's pixels
    name: str  # enrolled name or labels.UNKNOWN
    distance: float | None
    scores: Mapping[str, float] | None  # smoothed probabilities over LABELS; None without a model

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

    Encodings are computed only for tracks that are new, still voting or due for a re-check (at
    most one re-check per frame); the emotion model runs once per frame over all faces.
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
        # Tracked boxes are kept between detections only while the frame size stays the same.
        since = None if self._detected_at is None else timestamp - self._detected_at
        if since is None or not 0 <= since < self.settings.detect_period_s or bgr.shape != self._detected_shape:
            self._boxes, self._detected_at, self._detected_shape = self._detect(bgr), timestamp, bgr.shape
        tracks = self._tracker.update(self._boxes, timestamp)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) if tracks else None
        self._identify(rgb, tracks, timestamp)
        if self.emotion_model is not None:
            due = [track for track in tracks if track.emotion_due(timestamp, self.settings.emotion_period_s)]
            if due:
                rows = self.emotion_model.predict(rgb, [track.box for track in due])
                for track, row in zip(due, rows):
                    track.add_emotions(timestamp, row, self.settings.emotion_window_s)
        faces = []
        for track in tracks:
            scores = None
            if self.emotion_model is not None:
                scores = MappingProxyType(dict(zip(LABELS, map(float, track.smoothed_emotions()))))
            faces.append(AnalyzedFace(track.id, track.box, track.name, track.distance, scores))
        return faces

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

    def _identify(self, rgb: np.ndarray | None, tracks: list[Track], now: float) -> None:
        if not tracks:
            return
        recheck, unknown_recheck = self.settings.identity_recheck_s, self.settings.unknown_recheck_s
        voting = [t for t in tracks if not t.established]
        due = sorted(
            (t for t in tracks if t.established and t.identity_due(now, recheck, unknown_recheck)),
            key=lambda t: t.checked_at,
        )
        # One re-check per frame spreads the cost of established tracks over frames.
        chosen = voting + due[:1]
        if not chosen:
            return
        if len(self._matcher.registry) == 0:
            for track in chosen:
                track.add_vote(None, None, now, self._tolerance)
            return
        encodings = encode_faces(rgb, [track.box for track in chosen])
        for track, encoding in zip(chosen, encodings):
            track.add_vote(*self._matcher.match(encoding), now, self._tolerance)

    def draw(self, bgr: np.ndarray, faces: Sequence[AnalyzedFace]) -> np.ndarray:
        """A new BGR frame with each face's box (a stable colour per name) and "name · Emotion 87%"."""
        image = Image.fromarray(np.ascontiguousarray(bgr))  # drawn as is: colours are given in BGR
        pen = ImageDraw.Draw(image)
        font = _font()
        for face in faces:
            top, right, bottom, left = face.box
            colour = name_colour(face.name)
            pen.rectangle((left, top, right, bottom), outline=colour, width=2)
            text = face.name if face.emotion is None else f"{face.name} · {face.emotion} {face.probability:.0%}"
            _, y0, x1, y1 = pen.textbbox((0, 0), text, font=font)
            # Above the box, or below it at the top edge; shifted left rather than cut at the right edge.
            y = top - (y1 - y0) - 6 if top - (y1 - y0) - 6 >= 0 else bottom + 2
            x = max(0, min(left, image.width - x1 - 6))
            pen.rectangle((x, y, x + x1 + 6, y + y1 + 4), fill=colour)
            pen.text((x + 3, y + 2), text, font=font, fill=(255, 255, 255))
        return np.asarray(image).copy()

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


_PALETTE = (
    (230, 126, 34),
    (46, 204, 113),
    (52, 152, 219),
    (155, 89, 182),
    (241, 196, 15),
    (26, 188, 156),
    (231, 76, 60),
    (52, 73, 94),
    (211, 84, 0),
    (39, 174, 96),
)
UNKNOWN_COLOUR = (128, 128, 128)


def name_colour(name: str) -> tuple[int, int, int]:
    """A colour (BGR) that stays the same for a name across frames and runs; grey for Unknown."""
    if name == UNKNOWN:
        return UNKNOWN_COLOUR
    return _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


@functools.lru_cache(maxsize=1)
def _font() -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=16)
