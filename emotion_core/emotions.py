"""Emotion classification of face boxes: the `EmotionModel` interface and its backends.

Every backend returns probabilities over the canonical `labels.LABELS`; a label a model lacks
(Contempt for faceapi and human) gets 0. Each `predict` call runs one batched onnxruntime
inference per network (and view, for the ensemble's mirrored faces).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .boxes import Box, largest_box
from .compat import hsemotion_recognizer
from .config import EMOTION_MODELS, load_settings
from .errors import ModelUnavailableError, SettingsError
from .images import DEFAULT_MAX_PIXELS, ImageSource, load_image
from .labels import LABELS, canonical_label
from .networks import BACKENDS, ENSEMBLE, ENSEMBLE_MEMBERS, FACEAPI, HSEMOTION, HUMAN, NetworkSpec
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
    halfPixelCenters=false)`, which face-api and Human use; float32 result."""
    height, width, channels = image.shape
    ys = np.arange(size) * (height / size)
    xs = np.arange(size) * (width / size)
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    rows = np.concatenate([y0, np.minimum(y0 + 1, height - 1)])
    columns = np.concatenate([x0, np.minimum(x0 + 1, width - 1)])
    # Only the sampled pixels are gathered (a crop can be far larger than size), as uint8 rows
    # then columns of the flattened rows, before any float arithmetic.
    flat = np.ascontiguousarray(image).reshape(height, width * channels).take(rows, axis=0)
    corners = flat.take((columns[:, None] * channels + np.arange(channels)).ravel(), axis=1)
    corners = corners.astype(np.float32).reshape(2 * size, 2 * size, channels)
    dy = (ys - y0).astype(np.float32)[:, None, None]
    dx = (xs - x0).astype(np.float32)[None, :, None]
    left, right = corners[:, :size], corners[:, size:]
    mixed = left + (right - left) * dx  # TF.js's own lerp order
    top, bottom = mixed[:size], mixed[size:]
    return top + (bottom - top) * dy


def _onnx_session(path: Path, backend: str) -> Any:
    """An onnxruntime session for a backend's weights, or ModelUnavailableError saying how to refetch them."""
    try:
        return open_session(path)
    except Exception as exc:  # onnxruntime raises several unrelated types for broken files
        raise ModelUnavailableError(
            f"{path} does not load ({str(exc).splitlines()[0]}); fetch it again: {FETCH_HINT[backend]}"
        ) from None


GREY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)
"""RGB to grey as the Human library converts face crops for its emotion network."""

ENSEMBLE_FLIP = True
"""Whether the ensemble also classifies the mirrored faces (measured: docs/emotion-models.md)."""


class _OnnxBackend:
    """A network of ours in ONNX: `preprocess` crops the faces into its input, `infer` runs it."""

    name: str
    spec: NetworkSpec

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.input_size = self.spec.input_shape[0]
        self._indices = _label_map(self.spec.labels)
        self._session = _onnx_session(self.path, self.name)
        self._input = self._session.get_inputs()[0].name

    def preprocess(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The network input (NHWC float32) for the face `boxes` of an RGB uint8 frame."""
        raise NotImplementedError

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities over LABELS for each sample of a network input batch."""
        return _to_canonical(self._session.run(None, {self._input: batch})[0], self._indices)

    def predict(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities over LABELS for each box (see `EmotionModel.predict`)."""
        if not len(boxes):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        return self.infer(self.preprocess(rgb, boxes))


class FaceApiModel(_OnnxBackend):
    """face-api.js's FaceExpressionNet converted to ONNX (7 labels, no Contempt)."""

    name = "faceapi"
    spec = FACEAPI

    def preprocess(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The network input for `boxes`: float32 (N, 112, 112, 3) RGB 0..255."""
        return np.stack([resize_bilinear(pad_to_square(crop_box(rgb, box)), self.input_size) for box in boxes])


class HumanModel(_OnnxBackend):
    """The Human library's emotion network converted to ONNX (grey 64x64, 7 labels, no Contempt)."""

    name = "human"
    spec = HUMAN

    def preprocess(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The network input for `boxes`: float32 (N, 64, 64, 1) grey 0..255."""
        crops = [resize_bilinear(crop_box(rgb, box), self.input_size) for box in boxes]
        return np.stack([crop @ GREY_WEIGHTS for crop in crops])[..., None]


class EnsembleModel:
    """The mean of several networks' probabilities, optionally also over the mirrored faces
    (one inference per network for both views)."""

    name = ENSEMBLE

    def __init__(self, members: Sequence[_OnnxBackend], flip: bool = ENSEMBLE_FLIP) -> None:
        self.members = tuple(members)
        self.flip = flip

    def predict(self, rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """Probabilities over LABELS for each box (see `EmotionModel.predict`)."""
        if not len(boxes):
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        views = [(rgb, list(boxes))]
        if self.flip:
            width = rgb.shape[1]
            views.append(
                (rgb[:, ::-1], [(top, width - left, bottom, width - right) for top, right, bottom, left in boxes])
            )
        total = np.zeros((len(boxes), len(LABELS)), dtype=np.float32)
        for member in self.members:
            rows = member.infer(np.concatenate([member.preprocess(image, view) for image, view in views]))
            total += rows.reshape(len(views), len(boxes), len(LABELS)).mean(axis=0)
        return total / len(self.members)


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


BACKEND_CLASSES: dict[str, Callable[[Path], EmotionModel]] = {
    "hsemotion": HSEmotionModel,
    "faceapi": FaceApiModel,
    "human": HumanModel,
}


def _load_backend(name: str, models_dir: Path, fetch: bool, progress: Progress | None) -> EmotionModel | None:
    """Backend `name`, None when its weights are missing (fetched first with `fetch`)."""
    if name == ENSEMBLE:
        members = [_load_backend(member, models_dir, fetch, progress) for member in ENSEMBLE_MEMBERS]
        return None if any(member is None for member in members) else EnsembleModel(members)  # type: ignore[arg-type]
    path = model_path(name, models_dir)
    if path is None and fetch:
        path = fetch_model(name, models_dir, progress)
    return None if path is None else BACKEND_CLASSES[name](path)


def load_emotion_model(
    choice: str = "auto", models_dir: Path | None = None, *, fetch: bool = False, progress: Progress | None = None
) -> EmotionModel:
    """The emotion backend `choice` (auto or one of `BACKENDS`) with weights from `models_dir`.

    `auto` takes the first backend of `BACKENDS` whose weights are present and load. With
    `fetch`, an explicitly chosen backend whose weights are missing is fetched first (see
    `weights.fetch_model`; `auto` never fetches). Raises ModelUnavailableError whose message says
    how to get the weights.
    """
    if choice == "none":
        raise SettingsError(
            f"emotions are switched off (emotion model 'none'); choose one of {', '.join(MODEL_CHOICES)}"
        )
    if choice not in MODEL_CHOICES:
        raise SettingsError(f"emotion model must be one of {', '.join(MODEL_CHOICES)}, not {choice!r}")
    if models_dir is None:
        models_dir = load_settings().models_dir
    names = BACKENDS if choice == "auto" else (choice,)
    failures = []
    for name in names:
        try:
            model = _load_backend(name, models_dir, fetch and choice != "auto", progress)
        except ModelUnavailableError as exc:
            if choice != "auto":
                raise
            logger.warning("%s; trying the next emotion model", exc)
            failures.append(str(exc))
            continue
        if model is not None:
            return model
    if choice == "auto":
        raise ModelUnavailableError(
            "no emotion model available"
            + (f" ({'; '.join(failures)})" if failures else "")
            + f": run `{FETCH_HINT['faceapi']}`, or for hsemotion {FETCH_HINT['hsemotion']}"
        )
    how = FETCH_HINT[choice] if choice == "hsemotion" else f"run `{FETCH_HINT[choice]}`"
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
