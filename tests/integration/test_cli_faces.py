"""`python -m emotion_core` face commands: exit codes, JSON shapes, one document on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import Settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog, Observation
from tests.data import FACES, GROUPS, HAMILTON, PROJECT_ROOT, photos
from tests.integration.helpers import assert_bad_input, cli, undocumented

pytestmark = pytest.mark.requires_data


@pytest.fixture(scope="module")
def enrolled(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "faces.pkl"
    done = cli("enroll", "Barack Obama", *photos("barack_obama")[:2], faces=path)
    assert done.returncode == 0, done.stderr
    assert "Barack Obama" in done.stdout
    assert cli("enroll", "Joe Biden", photos("joe_biden")[0], faces=path).returncode == 0
    return path


def face(track_id: int, name: str, emotion: str) -> AnalyzedFace:
    scores = {label: (0.93 if label == emotion else 0.01) for label in LABELS}
    return AnalyzedFace(track_id, (10, 60, 60, 10), name, 0.3, scores)


def check_identify_document(document: object, images: list[Path]) -> None:
    assert isinstance(document, list) and [item["image"] for item in document] == [str(p) for p in images]
    for item in document:
        assert set(item) == {"image", "faces"}
        for face in item["faces"]:
            assert set(face) == {"name", "distance", "box"}
            assert isinstance(face["name"], str)
            assert face["distance"] is None or isinstance(face["distance"], float)
            assert len(face["box"]) == 4 and all(isinstance(v, int) for v in face["box"])
            top, right, bottom, left = face["box"]
            assert top < bottom and left < right


def test_people_json(enrolled):
    done = cli("people", "--json", faces=enrolled)
    assert done.returncode == 0
    assert json.loads(done.stdout) == [{"name": "Barack Obama", "encodings": 2}, {"name": "Joe Biden", "encodings": 1}]


def test_identify_json_is_one_document(enrolled):
    images = [GROUPS / "fr__two_people.jpg", photos("lionel_messi")[0], photos("barack_obama")[3]]
    done = cli("identify", "--json", *images, faces=enrolled)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # raises on anything but exactly one JSON document
    check_identify_document(document, images)
    names = [sorted(f["name"] for f in item["faces"]) for item in document]
    assert names == [["Barack Obama", "Joe Biden"], ["Unknown"], ["Barack Obama"]]
    assert document[1]["faces"][0]["distance"] > document[2]["faces"][0]["distance"]


def test_identify_text_output(enrolled):
    done = cli("identify", GROUPS / "fr__two_people.jpg", faces=enrolled)
    assert done.returncode == 0
    assert "Barack Obama (0." in done.stdout and "Joe Biden (0." in done.stdout


def test_identify_with_no_registry_gives_null_distances(tmp_path):
    done = cli("identify", "--json", GROUPS / "fr__two_people.jpg", faces=tmp_path / "none.pkl")
    assert done.returncode == 0
    faces = json.loads(done.stdout)[0]["faces"]
    assert [(f["name"], f["distance"]) for f in faces] == [("Unknown", None), ("Unknown", None)]
    assert not (tmp_path / "none.pkl").exists()  # reading never creates the file


def test_faces_path_from_the_environment(enrolled):
    done = cli("people", "--json", env={"EMOTION_FACES": str(enrolled)})
    assert [p["name"] for p in json.loads(done.stdout)] == ["Barack Obama", "Joe Biden"]


def test_a_face_of_someone_enrolled_is_refused_naming_the_force_option(enrolled):
    before = enrolled.read_bytes()
    done = cli("enroll", "Impostor", photos("barack_obama")[3], faces=enrolled)
    assert_bad_input(done, "matches the enrolled person 'Barack Obama'", "use --force")
    assert enrolled.read_bytes() == before


def test_forget(enrolled, tmp_path):
    copy = tmp_path / "faces.pkl"
    copy.write_bytes(enrolled.read_bytes())
    assert cli("forget", "Joe Biden", faces=copy).returncode == 0
    assert json.loads(cli("people", "--json", faces=copy).stdout) == [{"name": "Barack Obama", "encodings": 2}]
    assert_bad_input(cli("forget", "Joe Biden", faces=copy), "no enrolled person")


def test_forget_deletes_their_emotion_records(enrolled, tmp_path):
    copy = tmp_path / "faces.pkl"
    copy.write_bytes(enrolled.read_bytes())
    db_url = f"sqlite:///{tmp_path / 'emotions.db'}"
    log = EmotionLog(db_url)
    session_id = log.start_session(1.0, "faceapi", {})
    log.add_observations(
        session_id, [Observation(1.0, "Joe Biden", "Happy", 0.9), Observation(2.0, "Barack Obama", "Sad", 0.9)]
    )
    assert log.flush()
    log.close()
    done = cli("forget", "  Joe Biden ", faces=copy, env={"EMOTION_DB_URL": db_url})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("forgot Joe Biden and 1 emotion record(s); the audit log names them person-")
    log = EmotionLog(db_url)
    assert [o.person for o in log.observations()] == ["Barack Obama"]
    log.close()


def test_forget_counts_the_session_totals_again_as_the_report_does(enrolled, tmp_path):
    copy = tmp_path / "faces.pkl"
    copy.write_bytes(enrolled.read_bytes())
    env = {"EMOTION_DB_URL": f"sqlite:///{tmp_path / 'emotions.db'}"}
    log = EmotionLog(env["EMOTION_DB_URL"])
    session = LiveSession(Settings(weights={"Happy": 1.0, "Sad": -1.0}), log)
    session.start_counting(now=100.0)
    faces = [face(1, "Joe Biden", "Angry"), face(2, "Barack Obama", "Happy"), face(3, "Ann", "Sad")]
    for i in range(20):
        session.observe(faces, 100.0 + i / 10)
    session.stop_counting(now=102.0)
    assert log.flush()
    log.close()
    assert cli("forget", "Joe Biden", faces=copy, env=env).returncode == 0
    (listed,) = json.loads(cli("sessions", "--json", env=env).stdout)
    final = listed["final"]
    assert list(final["people"]) == ["Ann", "Barack Obama"]
    # Obama 4 x +1 and Ann 4 x -1 with the session's weights: mean 0 on [-2, +2], a score of 50.
    assert (final["total"], final["overall_points"], final["overall_score"]) == (8, 0.0, 50.0)
    assert "score 50.0" in cli("sessions", env=env).stdout
    out = tmp_path / "report.html"
    assert cli("report", listed["id"], "--out", out, env=env).returncode == 0
    assert "<li>Overall: 50.0</li>" in out.read_text()


def test_unicode_names_end_to_end(tmp_path):
    path = tmp_path / "faces.pkl"
    assert cli("enroll", "Zoë Ångström", photos("rose_leslie")[0], faces=path).returncode == 0
    assert cli("enroll", "李娜", photos("kit_harington")[0], faces=path).returncode == 0
    people = json.loads(cli("people", "--json", faces=path).stdout)
    assert people == [{"name": "Zoë Ångström", "encodings": 1}, {"name": "李娜", "encodings": 1}]
    text = cli("people", faces=path, env={"LC_ALL": "C", "LANG": "C"})  # a bare C locale still prints them
    assert text.returncode == 0 and "李娜" in text.stdout
    done = cli("identify", "--json", GROUPS / "fr__kit_with_rose.jpg", faces=path)
    assert sorted(f["name"] for f in json.loads(done.stdout)[0]["faces"]) == ["Zoë Ångström", "李娜"]
    assert cli("forget", "李娜", faces=path).returncode == 0
    assert [p["name"] for p in json.loads(cli("people", "--json", faces=path).stdout)] == ["Zoë Ångström"]


@pytest.mark.parametrize(
    "name, reason",
    [
        ("", "name is empty"),
        ("   ", "name is empty"),
        ("x" * 101, "longer than 100"),
        ("Ann\x07Lee", "control characters"),
        ("Ann\x1b[2JLee", "control characters"),
        ("Unknown", "reserved"),
    ],
)
def test_bad_names_exit_2_and_store_nothing(enrolled, name, reason):
    before = enrolled.read_bytes()
    assert_bad_input(cli("enroll", name, photos("lionel_messi")[0], faces=enrolled), reason)
    assert enrolled.read_bytes() == before


@pytest.mark.parametrize(
    "args, env, reason",
    [
        (["identify", "--tolerance", "5"], {}, "tolerance must be between"),
        (["identify", "--tolerance", "0"], {}, "tolerance must be between"),
        (["identify", "--tolerance", "abc"], {}, "invalid float value"),
        (["identify"], {"EMOTION_TOLERANCE": "5"}, "tolerance must be between"),
        (["identify"], {"EMOTION_SAMPLE_PERIOD": "0"}, "sampling period must be between"),
        (["identify"], {"EMOTION_WEIGHTS": '{"Happy": 10}'}, "weight of Happy"),
        (["eval", "faces", str(FACES), "--tolerance", "5"], {}, "tolerance must be between"),
        (["analyze", str(HAMILTON), "--sample-period", "0"], {}, "sampling period must be between"),
        (["analyze", str(HAMILTON), "--sample-period", "100"], {}, "sampling period must be between"),
        (["analyze", str(HAMILTON)], {"EMOTION_WEIGHTS": '{"Sad": -3}'}, "weight of Sad"),
        (["identify"], {"EMOTION_MODEL": "gpt"}, "EMOTION_MODEL must be one of auto, "),
        (["identify"], {"EMOTION_DETECTOR": "yolo"}, "EMOTION_DETECTOR must be one of "),
    ],
)
def test_out_of_range_settings_exit_2(enrolled, args, env, reason):
    before = enrolled.read_bytes()
    extra = [photos("joe_biden")[0]] if args[0] == "identify" else []
    assert_bad_input(cli(*args, *extra, faces=enrolled, env=env), reason)
    assert enrolled.read_bytes() == before


@pytest.mark.parametrize(
    "args, reason",
    [
        ([], "required"),
        (["enroll", "Ann"], "required"),
        (["frobnicate"], "invalid choice"),
        (["eval", "faces", "/nonexistent"], "not a directory"),
    ],
)
def test_usage_errors_exit_2(args, reason):
    assert_bad_input(cli(*args), reason)


def test_unexpected_errors_exit_1_with_one_line(tmp_path):
    """A bug (not bad input) in a command handler: exit 1, one line, traceback only with -v."""
    script = (
        "import sys, emotion_core.cli as c, emotion_core.cli.faces as f\n"
        "def broken(args): raise RuntimeError('boom')\n"
        "f.cmd_people = broken\n"
        "sys.exit(c.main(sys.argv[1:]))\n"
    )
    base = [sys.executable, "-c", script, "--faces", str(tmp_path / "f.pkl")]
    done = subprocess.run([*base, "people"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == "unexpected error: RuntimeError: boom (run with -v for details)"
    verbose = subprocess.run([*base, "-v", "people"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr


def test_eval_faces_json(tmp_path):
    done = cli("eval", "faces", FACES, "--json", faces=tmp_path / "unused.pkl")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"n", "accuracy", "unknown_rate", "wrong_rate", "strangers", "false_accept_rate", "detection"}
    assert undocumented([*report, *report["detection"]]) == []
    people = [d for d in FACES.iterdir() if d.is_dir() and not d.name.startswith("_")]
    assert report["n"] == sum(len(photos(d.name)) for d in people)
    assert report["strangers"] == sum(len(photos(d.name)) == 1 for d in people)
    assert report["accuracy"] + report["unknown_rate"] + report["wrong_rate"] == pytest.approx(1.0)
    assert all(0.0 <= report[k] <= 1.0 for k in ("accuracy", "unknown_rate", "wrong_rate", "false_accept_rate"))
    assert report["accuracy"] > 0.8  # recognition that works at all; the measured figure is in docs/performance.md
