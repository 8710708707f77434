"""Emotion classification of face boxes: the `EmotionModel` interface and its two backends.

Both backends return probabilities over the canonical `labels.LABELS`; a label a model lacks
(Contempt for faceapi) gets 0. Each `predict` call runs one batched onnxruntime inference.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .boxes import Box, largest_box
from .compat import hsemotion_recognizer
from .config import EMOTION_MODELS, load_settings
from .errors import ModelUnavailableError, SettingsError
from .images import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .labels import LABELS, canonical_label
from .networks import BACKENDS, FACEAPI, HSEMOTION
from .recognition import detect_faces
from .weights import FETCH_HINT, Progress, fetch_model, model_path, open_session

MODEL_CHOICES = tuple(choice for choice in EMOTION_MODELS if choice != "none")
"""The backends `load_emotion_model` accepts ("none" means no model, handled by callers)."""

logger = logging.getLogger(__name__)


class EmotionModel(Protocol):
    """A face emotion classifier over the canonical labels."""

    name: str

    def predict(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities over `LABELS` for each face box of an RGB uint8 frame, in one batched
        inference; shape (len(boxes), len(LABELS)), float32, rows sum to 1."""
        ...


def _label_map(model_labels: Sequence[str]) -> np.ndarray:
    """Index into LABELS of each of a model's own labels."""
    indices = []
    for label in model_labels:
        canonical = canonical_label(label)
        if canonical is None:
            raise ValueError(f"model label {label!r} has no canonical label")
        indices.append(LABELS.index(canonical))
    return np.array(indices)


def _to_canonical(probabilities: np.ndarray, indices: np.ndarray) -> np.ndarray:
    scores = np.zeros((len(probabilities), len(LABELS)), dtype=np.float32)
    scores[:, indices] = probabilities
    return scores / scores.sum(axis=1, keepdims=True)


def crop_box(rgb: np.ndarray, box: Box) -> np.ndarray:
    """The pixels of `box` clipped to the image; a box entirely outside gives one black pixel."""
    top, right, bottom, left = (round(v) for v in box)
    height, width = rgb.shape[:2]
    top, left = max(top, 0), max(left, 0)
    bottom, right = min(bottom, height), min(right, width)
    if bottom <= top or right <= left:
        return np.zeros((1, 1, 3), dtype=rgb.dtype)
    return rgb[top:bottom, left:right]


def pad_to_square(image: np.ndarray) -> np.ndarray:
    """Zero-pad the shorter side to a centred square, as face-api's `padToSquare(x, true)`
    (the larger half of an odd padding goes after the image)."""
    height, width = image.shape[:2]
    diff = abs(height - width)
    if diff == 0:
        return image
    after = int(np.floor(diff / 2 + 0.5))  # JavaScript Math.round
    before = diff - after
    pad = ((before, after), (0, 0), (0, 0)) if height < width else ((0, 0), (before, after), (0, 0))
    return np.pad(image, pad)


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Resize to size x size like TF.js `resizeBilinear(x, size, alignCorners=false,
    halfPixelCenters=false)`, which face-api uses; float32 result."""
    height, width = image.shape[:2]
    ys = np.arange(size) * (height / size)
    xs = np.arange(size) * (width / size)
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    dy = (ys - y0).astype(np.float32)[:, None, None]
    dx = (xs - x0).astype(np.float32)[None, :, None]
    pixels = image.astype(np.float32)
    top = pixels[y0][:, x0] * (1 - dx) + pixels[y0][:, x1] * dx
    bottom = pixels[y1][:, x0] * (1 - dx) + pixels[y1][:, x1] * dx
    return top * (1 - dy) + bottom * dy


class FaceApiModel:
    """face-api.js's FaceExpressionNet converted to ONNX (7 labels, no Contempt)."""

    name = "faceapi"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.input_size = FACEAPI.input_shape[0]
        self._indices = _label_map(FACEAPI.labels)
        try:
            self._session = open_session(self.path)
        except Exception as exc:  # onnxruntime raises several unrelated types for broken files
            raise ModelUnavailableError(
                f"{self.path} does not load ({str(exc).splitlines()[0]}); fetch it again: {FETCH_HINT['faceapi']}"
            ) from None
        self._input = self._session.get_inputs()[0].name

    def preprocess(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The network input for `boxes`: float32 (N, 112, 112, 3) RGB 0..255."""
        return np.stack([resize_bilinear(pad_to_square(crop_box(rgb, box)), self.input_size) for box in boxes])

    def predict(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities over LABELS for each box (see `EmotionModel.predict`)."""
        if not len(boxes):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        probabilities = self._session.run(None, {self._input: self.preprocess(rgb, boxes)})[0]
        return _to_canonical(probabilities, self._indices)


class HSEmotionModel:
    """hsemotion-onnx's `enet_b0_8_best_vgaf` (8 labels), through the library's own preprocessing."""

    name = "hsemotion"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.recognizer = hsemotion_recognizer(HSEMOTION.labels, open_session(self.path))
        except Exception as exc:  # onnxruntime raises several unrelated types for broken files
            raise ModelUnavailableError(
                f"{self.path} does not load ({str(exc).splitlines()[0]}); replace it: {FETCH_HINT['hsemotion']}"
            ) from None
        classes = self.recognizer.idx_to_class
        self._indices = _label_map([classes[i] for i in range(len(classes))])

    def predict(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities over LABELS for each box (see `EmotionModel.predict`)."""
        if not len(boxes):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        crops = [crop_box(rgb, box) for box in boxes]
        _, probabilities = self.recognizer.predict_multi_emotions(crops, logits=False)
        return _to_canonical(np.asarray(probabilities, dtype=np.float32), self._indices)


BACKEND_CLASSES: dict[str, Callable[[Path], EmotionModel]] = {"hsemotion": HSEmotionModel, "faceapi": FaceApiModel}


def load_emotion_model(
    choice: str = "auto", models_dir: Path | None = None, *, fetch: bool = False, progress: Progress | None = None
) -> EmotionModel:
    """The emotion backend `choice` (auto|hsemotion|faceapi) with weights from `models_dir`.

    `auto` takes hsemotion when its weights are present (and load), else faceapi. With `fetch`,
    an explicitly chosen backend whose weights are missing is fetched first (see
    `models.fetch_model`; `auto` never fetches). Raises ModelUnavailableError whose message says
    how to get the weights.
    """
    if choice == "none":
        raise SettingsError("emotions are switched off (emotion model 'none'); choose auto, hsemotion or faceapi")
    if choice not in MODEL_CHOICES:
        raise SettingsError(f"emotion model must be one of {', '.join(MODEL_CHOICES)}, not {choice!r}")
    if models_dir is None:
        models_dir = load_settings().models_dir
    names = BACKENDS if choice == "auto" else (choice,)
    failures = []
    for name in names:
        path = model_path(name, models_dir)
        if path is None and fetch and choice != "auto":
            path = fetch_model(name, models_dir, progress)
        if path is None:
            continue
        try:
            return BACKEND_CLASSES[name](path)
        except ModelUnavailableError as exc:
            if choice != "auto":
                raise
            logger.warning("%s; trying the next emotion model", exc)
            failures.append(str(exc))
    if choice == "auto":
        raise ModelUnavailableError(
            "no emotion model available"
            + (f" ({'; '.join(failures)})" if failures else "")
            + f": run `{FETCH_HINT['faceapi']}`, or for hsemotion {FETCH_HINT['hsemotion']}"
        )
    how = f"run `{FETCH_HINT['faceapi']}`" if choice == "faceapi" else FETCH_HINT["hsemotion"]
    raise ModelUnavailableError(f"{choice} emotion model not found in {models_dir}: {how}")


@dataclass(frozen=True)
class FaceEmotion:
    """One face of an image: its box, the most probable label and all probabilities."""

    box: Box
    emotion: str
    scores: Mapping[str, float]


def _int_box(box: Box) -> Box:
    top, right, bottom, left = (int(v) for v in box)
    return top, right, bottom, left


def classify_faces(model: EmotionModel, rgb: np.ndarray, boxes: Sequence[Box]) -> list[FaceEmotion]:
    """The emotion of each face box of an RGB image."""
    scores = model.predict(rgb, boxes)
    return [
        FaceEmotion(_int_box(box), LABELS[int(np.argmax(row))], dict(zip(LABELS, map(float, row))))
        for box, row in zip(boxes, scores)
    ]


def classify_image(
    model: EmotionModel,
    source: ImageSource,
    *,
    crop: bool = False,
    largest_only: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[FaceEmotion]:
    """The emotion of the faces dlib finds in an image, or of the whole image when `crop`."""
    rgb = load_image(source, max_pixels=max_pixels)
    boxes: list[Box]
    if crop:
        boxes = [(0, rgb.shape[1], rgb.shape[0], 0)]
    else:
        boxes = detect_faces(rgb)
        largest = largest_box(boxes)
        if largest_only and largest is not None:
            boxes = [largest]
    return classify_faces(model, rgb, boxes)
