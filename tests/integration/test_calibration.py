"""Calibration on real photos and video: the calibrate CLI, reading relative to a baseline, Yale."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from emotion_core.calibration import make_baseline
from emotion_core.config import Settings
from emotion_core.emotions import load_emotion_model
from emotion_core.images import load_image
from emotion_core.labels import LABELS
from emotion_core.registry import FileRegistry, RegistryStore, load_registry, set_baseline
from emotion_core.registry_db import DatabaseRegistry
from emotion_core.replay import analyze_video
from tests.data import EMOTIONS, GROUPS, photos
from tests.integration.helpers import assert_bad_input, cli

pytestmark = pytest.mark.requires_data

# John Salley's photos all read Happy with faceapi: his usual face is a smile.
PERSON, FOLDER = "John Salley", "john_salley"
YALE = EMOTIONS / "yale"


def slideshow(path: Path, images: list[Path], seconds_each: float = 2.0, fps: float = 15.0) -> Path:
    """An mp4 showing each photo centred on grey for `seconds_each`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for image in images:
        bgr = cv2.cvtColor(load_image(image), cv2.COLOR_RGB2BGR)
        scale = 300 / max(bgr.shape[:2])
        bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)))
        canvas = np.full((480, 640, 3), 128, np.uint8)
        top, left = (480 - bgr.shape[0]) // 2, (640 - bgr.shape[1]) // 2
        canvas[top : top + bgr.shape[0], left : left + bgr.shape[1]] = bgr
        for _ in range(round(seconds_each * fps)):
            writer.write(canvas)
    writer.release()
    return path


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> Path:
    """A registry with John Salley (3 photos) and John Savage."""
    faces = tmp_path_factory.mktemp("calibration") / "faces.pkl"
    assert cli("enroll", PERSON, *photos(FOLDER)[:3], faces=faces).returncode == 0
    assert cli("enroll", "John Savage", *photos("john_savage")[:2], faces=faces).returncode == 0
    return faces


@pytest.fixture(scope="module")
def resting_video(tmp_path_factory) -> Path:
    """A video of John Salley's photos that are not used to calibrate."""
    return slideshow(tmp_path_factory.mktemp("video") / "rest.mp4", photos(FOLDER)[5:])


def analyze(video: Path, faces: Path, env: dict | None = None) -> dict:
    done = cli("analyze", video, "--model", "faceapi", "--json", faces=faces, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["people"]


@pytest.fixture(params=["file", "database"])
def backend(request, tmp_path) -> Iterator[tuple[RegistryStore, dict]]:
    """Where the CLI keeps the people, and its environment: faces.pkl, or a PostgreSQL server."""
    if request.param == "file":
        yield FileRegistry(tmp_path / "faces.pkl"), {}
        return
    url = request.getfixturevalue("pg_url")
    database = DatabaseRegistry(url)
    yield database, {"EMOTION_DB_URL": url}
    database.close()


def test_calibrating_a_face_that_rests_happy_makes_it_read_neutral(enrolled, resting_video, tmp_path):
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    before = analyze(resting_video, faces)[PERSON]
    assert before["counts"]["Happy"] >= 0.9 * before["observations"] and "calibrated" not in before

    # A group photo without him and a picture of someone else are skipped with one line each.
    files = [*photos(FOLDER)[:5], GROUPS / "fr__two_people.jpg", photos("john_savage")[0]]
    done = cli("calibrate", PERSON, *files, "--model", "faceapi", "--json", faces=faces)
    assert done.returncode == 0, done.stderr
    warnings = done.stderr.strip().splitlines()
    assert len(warnings) == 2 and all(line.startswith("warning: ") and "skipped" in line for line in warnings)
    document = json.loads(done.stdout)
    assert document["name"] == PERSON and document["frames"] == 5 and document["model"] == "faceapi"
    assert set(document["baseline"]) == {"Happy", "Neutral", "Sad", "Angry", "Disgust", "Fear", "Surprise", "Contempt"}
    assert max(document["baseline"], key=document["baseline"].get) == "Happy"

    after = analyze(resting_video, faces)[PERSON]
    assert after["calibrated"] is True
    assert after["counts"]["Neutral"] >= 0.9 * after["observations"], after
    assert after["observations"] == before["observations"]
    # A missing file, a folder, a text file and a damaged picture are skipped with one reason each;
    # a picture the image reader refuses is never handed to the video reader (OpenCV decodes a
    # truncated JPEG as a one-frame video).
    (tmp_path / "notes.txt").write_text("not a face")
    picture = photos(FOLDER)[0].read_bytes()
    (tmp_path / "cut.jpg").write_bytes(picture[: len(picture) // 2])
    files = [tmp_path / "none.jpg", tmp_path, tmp_path / "notes.txt", tmp_path / "cut.jpg"]
    done = cli("calibrate", PERSON, photos(FOLDER)[0], *files, faces=faces)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[:3] == [
        f"warning: {tmp_path / 'none.jpg'}: file not found; skipped",
        f"warning: {tmp_path}: is a directory, not an image; skipped",
        f"warning: {tmp_path / 'notes.txt'}: neither a picture nor a video; skipped",
    ]
    assert len(lines) == 4 and lines[3].startswith(f"warning: {tmp_path / 'cut.jpg'}: ") and "truncated" in lines[3]

    assert cli("calibrate", "--clear", PERSON, faces=faces).returncode == 0
    assert analyze(resting_video, faces)[PERSON] == before


def test_a_baseline_lives_with_the_person_in_each_registry(backend, resting_video, tmp_path):
    """calibrate, analyze, calibrate --clear and forget on the command line, with faces.pkl or the database."""
    store, env = backend
    faces = tmp_path / "faces.pkl"  # with the database, the CLI never writes it
    for name, folder, count in ((PERSON, FOLDER, 3), ("John Savage", "john_savage", 2)):
        done = cli("enroll", name, *photos(folder)[:count], faces=faces, env=env)
        assert done.returncode == 0, done.stderr
    done = cli("calibrate", PERSON, *photos(FOLDER)[:5], "--model", "faceapi", "--json", faces=faces, env=env)
    assert done.returncode == 0, done.stderr
    stored = store.load().baselines[PERSON]
    assert stored.frames == json.loads(done.stdout)["frames"] == 5 and stored.model == "faceapi"
    assert faces.exists() == isinstance(store, FileRegistry)
    # A baseline made by another emotion model is kept but not applied.
    set_baseline(store, "John Savage", make_baseline([np.eye(len(LABELS))[0]], "hsemotion"))

    people = analyze(resting_video, faces, env)
    assert people[PERSON]["calibrated"] is True
    assert people[PERSON]["counts"]["Neutral"] >= 0.9 * people[PERSON]["observations"] > 0
    assert "calibrated" not in people["John Savage"]

    assert cli("calibrate", "--clear", PERSON, faces=faces, env=env).returncode == 0
    assert set(store.load().baselines) == {"John Savage"}
    assert cli("calibrate", PERSON, photos(FOLDER)[3], faces=faces, env=env).returncode == 0
    assert set(store.load().baselines) == {PERSON, "John Savage"}
    done = cli("forget", PERSON, faces=faces, env=env)
    assert done.returncode == 0, done.stderr
    after = store.load()
    assert after.people() == {"John Savage": 2} and set(after.baselines) == {"John Savage"}


def test_analyze_json_lists_every_enrolled_person_and_each_visitor(enrolled, tmp_path):
    """Only John Salley and a stranger are in the video: John Savage, enrolled, is listed with nothing counted."""
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    set_baseline(faces, "John Savage", make_baseline([np.eye(len(LABELS))[0]], "faceapi"))
    video = slideshow(tmp_path / "two.mp4", [photos(FOLDER)[6], photos("barack_obama")[0]])
    env = {"EMOTION_DB_URL": f"sqlite:///{tmp_path / 'emotions.db'}"}
    done = cli("analyze", video, "--model", "faceapi", "--json", "--db", faces=faces, env=env)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    people = document["people"]
    assert set(people) == {PERSON, "John Savage", "Visitor 1"}
    assert people[PERSON]["observations"] > 0 and people["Visitor 1"]["observations"] > 0
    assert people["John Savage"] == {
        "counts": dict.fromkeys(LABELS, 0),
        "observations": 0,
        "score": None,
        "points": 0,
        "calibrated": True,
    }
    assert all(set(entry["counts"]) == set(LABELS) for entry in people.values())
    # The logged session (History, reports) lists only the people who were seen.
    (session,) = json.loads(cli("sessions", "--json", env=env).stdout)
    assert session["id"] == document["session"] and set(session["people"]) == {PERSON, "Visitor 1"}
    assert set(session["final"]["people"]) == {PERSON, "Visitor 1"}


def test_calibrate_from_a_video(enrolled, resting_video, tmp_path):
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    done = cli("calibrate", PERSON, resting_video, "--json", "--model", "faceapi", faces=faces)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] >= 10
    assert load_registry(faces).baselines[PERSON].frames == json.loads(done.stdout)["frames"]


def test_calibrate_refuses_with_one_line(enrolled, tmp_path):
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    assert_bad_input(cli("calibrate", "Nobody", photos(FOLDER)[0], faces=faces), "no enrolled person", "Nobody")
    assert_bad_input(cli("calibrate", "--clear", "Nobody", faces=faces), "no enrolled person")
    done = cli("calibrate", PERSON, GROUPS / "fr__two_people.jpg", tmp_path / "missing.jpg", faces=faces)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("error: no usable frame of John Salley")
    assert load_registry(faces).baselines == {}


def test_forgetting_a_person_deletes_their_baseline(enrolled, tmp_path):
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    assert cli("calibrate", PERSON, photos(FOLDER)[3], faces=faces).returncode == 0
    assert PERSON in load_registry(faces).baselines
    assert cli("forget", PERSON, faces=faces).returncode == 0
    assert load_registry(faces).baselines == {}


def test_people_without_a_usable_baseline_read_exactly_as_before(enrolled, resting_video):
    model = load_emotion_model("faceapi", Settings().models_dir)
    registry = load_registry(enrolled)
    other_model = registry.with_baseline(PERSON, make_baseline([np.eye(8)[0]], "hsemotion"))
    same_model = registry.with_baseline(PERSON, make_baseline([np.eye(8)[0]], "faceapi"))
    runs = [analyze_video(resting_video, r, model, Settings()) for r in (registry, other_model, same_model)]
    plain = [[(o.person, o.emotion, o.probability, o.raw_emotion) for o in run.observations] for run in runs]
    assert plain[0] == plain[1] and plain[0]
    assert all(raw is None for *_, raw in plain[0])
    # With a baseline of this model the same frames are logged with both readings.
    assert [(person, raw) for person, _, _, raw in plain[2]] == [
        (person, emotion) for person, emotion, _, _ in plain[0]
    ]
    assert [emotion for _, emotion, _, _ in plain[2]] != [emotion for _, emotion, _, _ in plain[0]]


def test_calibrating_each_yale_subject_on_their_neutral_image():
    done = cli("eval", "emotions", YALE, "--model", "faceapi", "--calibrate-by-subject", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["n"] == 20 and report["subjects"] == 7  # the non-neutral images
    assert report["calibrated_accuracy"] >= report["accuracy"]
    assert report["calibrated_per_class"]["Sad"] > report["per_class"]["Sad"]


def test_a_baseline_is_stored_as_plain_data(enrolled, tmp_path):
    faces = tmp_path / "faces.pkl"
    faces.write_bytes(enrolled.read_bytes())
    set_baseline(faces, PERSON, make_baseline([np.eye(8)[1]], "faceapi", recorded_at=1.0))
    assert b"emotion_core" not in faces.read_bytes()  # no class of ours in the pickle
