"""Face encoding (dlib via `face_recognition`) and matching against the registry, on the faces
the configured detector finds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .boxes import Box
from .detectors import FaceDetector, default_detector, dlib_models
from .errors import EnrollmentError, ImageError
from .images import DEFAULT_MAX_PIXELS, ImageSource, describe, load_image
from .labels import UNKNOWN
from .registry import Registry, RegistryStore, add_person, validate_name

# People's names are personal data: they are logged at DEBUG level only.
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceMatch:
    """One face found in an image: its box, the matched name (or Unknown) and the distance."""

    box: Box
    name: str
    distance: float | None


def detect_faces(rgb: np.ndarray, detector: FaceDetector | None = None) -> list[Box]:
    """Face boxes in an RGB image, best first, from `detector` (default: the configured one)."""
    return [found.box for found in (detector or default_detector()).detect(rgb)]


ENROLL_JITTERS = 10
"""Enrollment encodings are the mean over this many randomly jittered copies of the face (dlib's
`num_jitters`; about 10x the time of one encoding, paid once per photo). With RetinaFace's boxes it
brought the farthest same-person pair of ../shared/data from 0.559 to 0.543, under the 0.55
tolerance, while the closest stranger stayed at 0.592 (docs/performance.md)."""


def encode_faces(
    rgb: np.ndarray, boxes: Sequence[Box], jitters: int = 1, *, detector: FaceDetector | None = None
) -> np.ndarray:
    """Return the 128-d encodings of the faces at `boxes`, shape (len(boxes), 128), each the mean
    over `jitters` jittered copies. `boxes` are as `detector` (default: the configured one) found
    them; the encoder sees each in the geometry it was trained on (`FaceDetector.encoding_box`)."""
    if not boxes:
        return np.empty((0, 128))
    geometry = detector or default_detector()
    encodings = dlib_models().face_encodings(
        np.ascontiguousarray(rgb),
        known_face_locations=[geometry.encoding_box(box) for box in boxes],
        num_jitters=jitters,
        model="small",
    )
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


def identify(rgb: np.ndarray, matcher: Matcher, detector: FaceDetector | None = None) -> list[FaceMatch]:
    """Detect (with `detector`, default the configured one), encode and match every face in an RGB image."""
    detector = detector or default_detector()
    boxes = detect_faces(rgb, detector)
    encodings = encode_faces(rgb, boxes, detector=detector)
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
    boxes = detect_faces(rgb)
    if not boxes:
        raise EnrollmentError(f"{name}: no face found")
    if len(boxes) > 1:
        raise EnrollmentError(f"{name}: {len(boxes)} faces found; use a photo with exactly one face")
    top, right, bottom, left = boxes[0]
    side = min(right - left, bottom - top)
    if side < min_face:
        raise EnrollmentError(f"{name}: face too small ({side} px; at least {min_face} px needed)")
    return encode_faces(rgb, boxes, ENROLL_JITTERS)[0]


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
                    f"(distance {distance:.2f}); to enroll anyway, use --force (command line) or tick "
                    '"Enroll even if the face matches another enrolled person" (Enroll page)'
                )

    add_person(store, name, encodings, check=None if force else refuse_lookalikes)
    logger.info("enrolled a person from %d image(s)", len(encodings))
    logger.debug("enrolled %s", name)
    return len(encodings)
