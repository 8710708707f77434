"""Rebuild face-api.js's FaceExpressionNet (TF.js weights) as an ONNX graph with numpy + onnx.

The network (from the package's `src/faceFeatureExtractor` and `src/faceExpressionNet`):
four dense blocks of depthwise-separable convolutions (32, 64, 128, 256 channels, each block
halving the resolution), a 7x7 average pool, one fully connected layer to 7 outputs and a softmax.
The ONNX model takes RGB pixels 0..255 as float32 NHWC (N, 112, 112, 3) named "input" and does the
mean subtraction and /255 itself, like `FaceFeatureExtractor.forwardInput`; its output
"probabilities" (N, 7) follows `FACE_EXPRESSION_LABELS`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .networks import FACEAPI, NetworkSpec
from .networks import FACEAPI_MEAN_RGB as MEAN_RGB

INPUT_SIZE = FACEAPI.input_shape[0]
BLOCK_CHANNELS = (32, 64, 128, 256)
OPSET = 17


def read_weights(manifest_path: Path, bin_dir: Path) -> dict[str, np.ndarray]:
    """Decode a TF.js weights manifest file and its binary shards into float32 arrays by name."""
    return decode_weights(json.loads(Path(manifest_path).read_text()), bin_dir)


def decode_weights(manifest: list[dict], bin_dir: Path) -> dict[str, np.ndarray]:
    """Decode TF.js weight groups (a manifest's entries) and their binary shards into float32 arrays."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((Path(bin_dir) / shard).read_bytes() for shard in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"], dtype=np.int64))
            quant = spec.get("quantization")
            if quant:
                dtype = np.dtype(quant["dtype"])
                raw = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
                values = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
            else:
                dtype = np.dtype(spec["dtype"])
                values = np.frombuffer(data, dtype=dtype, count=count, offset=offset).astype(np.float32)
            offset += count * dtype.itemsize
            weights[spec["name"]] = values.reshape(spec["shape"])
        if offset != len(data):
            raise ValueError(f"weights manifest describes {offset} bytes, shards hold {len(data)}")
    return weights


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'same' padding (the extra pixel goes after) for one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class _Graph:
    """Accumulates ONNX nodes and initializers."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def conv(
        self, x: str, name: str, weight: np.ndarray, bias: np.ndarray | None, size: int, stride: int, group: int = 1
    ) -> str:
        kernel = weight.shape[-1]
        before, after = _same_pads(size, kernel, stride)
        inputs = [x, self.const(f"{name}/W", weight)]
        if bias is not None:
            inputs.append(self.const(f"{name}/B", bias))
        return self.node(
            "Conv",
            inputs,
            name,
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[before, before, after, after],
            group=group,
        )

    def separable(self, x: str, name: str, w: Mapping[str, np.ndarray], size: int, stride: int) -> str:
        depthwise = w[f"{name}/depthwise_filter"]  # (kh, kw, C, 1)
        pointwise = w[f"{name}/pointwise_filter"]  # (1, 1, Cin, Cout)
        channels = depthwise.shape[2]
        x = self.conv(x, f"{name}/depthwise", depthwise.transpose(2, 3, 0, 1), None, size, stride, channels)
        return self.conv(x, name, pointwise.transpose(3, 2, 0, 1), w[f"{name}/bias"], -(-size // stride), 1)


def _dense_block(g: _Graph, x: str, block: str, w: Mapping[str, np.ndarray], size: int, first: bool) -> tuple[str, int]:
    """denseBlock4: out = relu(c0 + c1 + c2 + c3), each conv fed the running relu'd sum."""
    if first:
        filters = w[f"{block}/conv0/filters"]  # (kh, kw, Cin, Cout)
        out1 = g.conv(x, f"{block}/conv0", filters.transpose(3, 2, 0, 1), w[f"{block}/conv0/bias"], size, 2)
    else:
        out1 = g.separable(x, f"{block}/conv0", w, size, 2)
    size = -(-size // 2)
    out1 = g.node("Relu", [out1], f"{block}/relu0")
    out2 = g.separable(out1, f"{block}/conv1", w, size, 1)
    sum2 = g.node("Add", [out1, out2], f"{block}/sum2")
    out3 = g.separable(g.node("Relu", [sum2], f"{block}/relu2"), f"{block}/conv2", w, size, 1)
    sum3 = g.node("Add", [sum2, out3], f"{block}/sum3")
    out4 = g.separable(g.node("Relu", [sum3], f"{block}/relu3"), f"{block}/conv3", w, size, 1)
    sum4 = g.node("Add", [sum3, out4], f"{block}/sum4")
    return g.node("Relu", [sum4], f"{block}/out"), size


def build_model(weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The FaceExpressionNet ONNX model for the decoded TF.js `weights`."""
    g = _Graph()
    # Normalised after the transpose: the same values, but onnxruntime broadcasts a per-channel
    # constant over NCHW planes far faster than over NHWC's innermost axis of 3.
    mean = np.array(MEAN_RGB, dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.node("Transpose", ["input"], "input_nchw", perm=[0, 3, 1, 2])
    x = g.node("Sub", [x, g.const("mean_rgb", mean)], "centred")
    x = g.node("Div", [x, g.const("scale", np.array(255.0, dtype=np.float32))], "nchw")
    size = INPUT_SIZE
    for index in range(len(BLOCK_CHANNELS)):
        x, size = _dense_block(g, x, f"dense{index}", weights, size, first=index == 0)
    x = g.node("AveragePool", [x], "pool", kernel_shape=[7, 7], strides=[2, 2])
    x = g.node("Flatten", [x], "features", axis=1)
    x = g.node(
        "Gemm", [x, g.const("fc/weights", weights["fc/weights"]), g.const("fc/bias", weights["fc/bias"])], "logits"
    )
    g.node("Softmax", [x], "probabilities", axis=1)
    return emotion_model(g.nodes, g.initializers, "face_expression_net", FACEAPI, __name__)


def emotion_model(
    nodes: list[onnx.NodeProto], initializers: list[onnx.TensorProto], name: str, spec: NetworkSpec, producer: str
) -> onnx.ModelProto:
    """A checked ONNX model from nodes reading "input" (N, *spec.input_shape) and writing
    "probabilities" (N, len(spec.labels)), with the labels in its metadata."""
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", *spec.input_shape])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(spec.labels)])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    model.ir_version = 8
    helper.set_model_props(model, {"labels": ",".join(spec.labels)})
    onnx.checker.check_model(model)
    return model


def convert(manifest_path: Path, bin_dir: Path) -> bytes:
    """Serialized ONNX model converted from face-api's expression weights manifest and shards."""
    return build_model(read_weights(manifest_path, bin_dir)).SerializeToString()
