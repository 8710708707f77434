"""faceapi backend pieces on small known inputs: TF.js weight decoding, face-api's square padding
and TF.js's bilinear resize (checked against onnxruntime's 'asymmetric' Resize, the same rule)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper

from emotion_core.emotions import crop_box, pad_to_square, resize_bilinear
from emotion_core.faceapi_convert import read_weights
from emotion_core.weights import open_session


def test_read_weights_decodes_quantized_and_float_tensors(tmp_path):
    quantized = np.array([0, 1, 255, 128, 7, 9], dtype=np.uint8)
    floats = np.array([1.5, -2.25], dtype=np.float32)
    (tmp_path / "w.bin").write_bytes(quantized.tobytes() + floats.tobytes())
    manifest = [
        {
            "paths": ["w.bin"],
            "weights": [
                {
                    "name": "a/filters",
                    "shape": [2, 3],
                    "dtype": "float32",
                    "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0},
                },
                {"name": "a/bias", "shape": [2], "dtype": "float32"},
            ],
        }
    ]
    (tmp_path / "m.json").write_text(json.dumps(manifest))
    weights = read_weights(tmp_path / "m.json", tmp_path)
    np.testing.assert_allclose(weights["a/filters"], (quantized * 0.5 - 1.0).reshape(2, 3))
    np.testing.assert_array_equal(weights["a/bias"], floats)
    (tmp_path / "w.bin").write_bytes(quantized.tobytes() + floats.tobytes() + b"\0")
    with pytest.raises(ValueError, match="bytes"):
        read_weights(tmp_path / "m.json", tmp_path)


def test_pad_to_square_centres_like_face_api():
    wide = np.ones((3, 6, 3), dtype=np.uint8)
    padded = pad_to_square(wide)
    assert padded.shape == (6, 6, 3)
    # padToSquare(x, true): round(3 / 2) = 2 rows after the image, the remaining 1 before.
    assert padded[:, :, 0].sum(axis=1).tolist() == [0, 6, 6, 6, 0, 0]
    tall = np.ones((5, 4, 3), dtype=np.uint8)
    assert pad_to_square(tall)[:, :, 0].sum(axis=0).tolist() == [5, 5, 5, 5, 0]  # round(0.5) = 1 after
    square = np.ones((4, 4, 3), dtype=np.uint8)
    assert pad_to_square(square) is square


def test_resize_bilinear_known_values():
    image = np.array([[[0], [100]], [[200], [40]]], dtype=np.uint8).repeat(3, axis=2)
    resized = resize_bilinear(image, 4)[:, :, 0]
    assert resized[0].tolist() == [0, 50, 100, 100]
    assert resized[:, 0].tolist() == [0, 100, 200, 200]


def test_resize_bilinear_matches_asymmetric_linear_resize():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (48, 37, 3), dtype=np.uint8)
    node = helper.make_node(
        "Resize", ["x", "", "", "sizes"], ["y"], mode="linear", coordinate_transformation_mode="asymmetric"
    )
    graph = helper.make_graph(
        [node],
        "resize",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [48, 37, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [112, 112, 3])],
        [helper.make_tensor("sizes", TensorProto.INT64, [3], [112, 112, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    reference = open_session(model.SerializeToString()).run(None, {"x": image.astype(np.float32)})[0]
    np.testing.assert_allclose(resize_bilinear(image, 112), reference, atol=1e-3)


def test_crop_box_clips_to_the_image():
    rgb = np.arange(10 * 8 * 3, dtype=np.uint8).reshape(10, 8, 3)
    np.testing.assert_array_equal(crop_box(rgb, (2, 6, 7, 1)), rgb[2:7, 1:6])
    np.testing.assert_array_equal(crop_box(rgb, (-5, 20, 30, -3)), rgb)
    assert crop_box(rgb, (20, 30, 40, 25)).shape == (1, 1, 3)
