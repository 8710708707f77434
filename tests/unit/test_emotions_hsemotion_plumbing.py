"""The hsemotion backend's plumbing, tested WITHOUT the real HSEmotion weights.

The real `enet_b0_8_best_vgaf.onnx` cannot be fetched on this machine (no registry ships it), so
each test writes a small ONNX model generated here with the same signature: input "input" float32
N x 3 x 224 x 224, output N x 8 logits (Anger, Contempt, Disgust, Fear, Happiness, Neutral,
Sadness, Surprise). The model averages each input channel and applies a known linear layer, so
the expected output of hsemotion-onnx's preprocessing (resize, /255, ImageNet mean/std, NCHW),
our batching, the softmax and the mapping to canonical labels can be computed by hand.
What this does not test is the accuracy of the real network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from emotion_core import weights
from emotion_core.emotions import HSEmotionModel, load_emotion_model
from emotion_core.errors import ModelUnavailableError
from emotion_core.labels import LABELS

HSE_ORDER = ("Angry", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
# logits = channel means (normalized) @ WEIGHTS + BIAS: red faces -> Happiness, green -> Sadness,
# blue -> Surprise (column indices 4, 6, 7 in the model's own order).
WEIGHTS = np.zeros((3, 8), dtype=np.float32)
WEIGHTS[0, 4], WEIGHTS[1, 6], WEIGHTS[2, 7] = 3.0, 3.0, 3.0
BIAS = np.linspace(-0.5, 0.5, 8).astype(np.float32)


def write_fake_hsemotion(path: Path) -> Path:
    """An ONNX model with enet_b0_8_best_vgaf's input/output signature (see module docstring)."""
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["means"], axis=1),
        helper.make_node("Gemm", ["means", "W", "B"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "fake_enet_b0_8",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 8])],
        [numpy_helper.from_array(WEIGHTS, "W"), numpy_helper.from_array(BIAS, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


def expected_scores(colour: tuple[int, int, int]) -> np.ndarray:
    """Canonical probabilities the fake model must give for a face of one uniform colour."""
    means = (np.array(colour) / 255.0 - MEAN) / STD
    logits = means @ WEIGHTS + BIAS
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    return np.array([probabilities[HSE_ORDER.index(label)] for label in LABELS])


@pytest.fixture
def models_dir(tmp_path: Path, monkeypatch) -> Path:
    # Keep a real ~/.hsemotion cache of the developer's machine out of these tests.
    monkeypatch.setattr(weights, "HSEMOTION_CACHE", tmp_path / "no-cache")
    folder = tmp_path / "models"
    folder.mkdir()
    write_fake_hsemotion(folder / weights.HSEMOTION_FILE)
    return folder


@pytest.fixture
def frame() -> tuple[np.ndarray, list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
    """A 240x480 frame with three uniformly coloured 'faces' and their boxes."""
    colours = [(230, 20, 20), (20, 230, 20), (20, 20, 230)]
    rgb = np.full((240, 480, 3), 128, dtype=np.uint8)
    boxes = []
    for index, colour in enumerate(colours):
        left = 20 + index * 150
        rgb[40:190, left : left + 130] = colour
        boxes.append((40, left + 130, 190, left))
    return rgb, boxes, colours


def test_auto_picks_hsemotion_from_models_dir(models_dir):
    model = load_emotion_model("auto", models_dir)
    assert isinstance(model, HSEmotionModel) and model.name == "hsemotion"
    assert model.path == models_dir / weights.HSEMOTION_FILE


def test_preprocessing_softmax_and_label_mapping(models_dir, frame):
    rgb, boxes, colours = frame
    scores = load_emotion_model("hsemotion", models_dir).predict(rgb, boxes)
    assert scores.shape == (3, len(LABELS)) and scores.dtype == np.float32
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    for row, colour in zip(scores, colours):
        np.testing.assert_allclose(row, expected_scores(colour), atol=1e-4)
    assert [LABELS[i] for i in scores.argmax(axis=1)] == ["Happy", "Sad", "Surprise"]
    assert scores[:, LABELS.index("Contempt")].min() > 0  # hsemotion has Contempt, unlike faceapi


def test_all_faces_of_a_frame_in_one_inference_call(models_dir, frame):
    rgb, boxes, _ = frame
    model = load_emotion_model("hsemotion", models_dir)
    session = model.recognizer.ort_session
    batches = []

    class CountingSession:
        def run(self, outputs, feed):
            batches.append(feed["input"].shape)
            return session.run(outputs, feed)

    model.recognizer.ort_session = CountingSession()
    single = [model.predict(rgb, [box]) for box in boxes]
    together = model.predict(rgb, boxes)
    assert batches[-1] == (3, 3, 224, 224) and len(batches) == 4
    np.testing.assert_allclose(together, np.vstack(single), atol=1e-6)


def test_no_boxes_and_boxes_outside_the_frame(models_dir, frame):
    rgb, _boxes, colours = frame
    model = load_emotion_model("hsemotion", models_dir)
    empty = model.predict(rgb, [])
    assert empty.shape == (0, len(LABELS)) and empty.dtype == np.float32
    red = np.zeros((100, 100, 3), dtype=np.uint8)
    red[:] = colours[0]
    overhanging = (-50, 150, 150, -50)  # clipped to the whole (red) frame
    np.testing.assert_allclose(model.predict(red, [overhanging])[0], expected_scores(colours[0]), atol=1e-4)
    outside = model.predict(rgb, [(500, 900, 600, 800)])
    assert outside.shape == (1, len(LABELS)) and np.isclose(outside.sum(), 1.0)


def test_broken_weights_file_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "HSEMOTION_CACHE", tmp_path / "no-cache")
    (tmp_path / weights.HSEMOTION_FILE).write_bytes(b"not an onnx model")
    with pytest.raises(ModelUnavailableError, match=weights.HSEMOTION_FILE):
        load_emotion_model("hsemotion", tmp_path)


def test_status_and_fetch_use_weights_put_in_by_hand(models_dir):
    status = {s.name: s for s in weights.model_status(models_dir)}
    assert status["hsemotion"].available and status["hsemotion"].path == models_dir / weights.HSEMOTION_FILE
    assert status["hsemotion"].size_bytes == (models_dir / weights.HSEMOTION_FILE).stat().st_size
    messages = []
    assert weights.fetch_model("hsemotion", models_dir, progress=messages.append) == models_dir / weights.HSEMOTION_FILE
    assert "already available" in messages[-1]
