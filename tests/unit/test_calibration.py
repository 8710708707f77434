"""Calibration math, baselines stored with the person, the resting-face recorder, visitors in LiveSession."""

from __future__ import annotations

import pickle
import sqlite3

import numpy as np
import pytest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.calibration import Baseline, CalibrationRecorder, correct, make_baseline, usable_baseline
from emotion_core.config import Settings
from emotion_core.errors import EnrollmentError, RegistryError
from emotion_core.labels import LABELS, UNKNOWN
from emotion_core.live import LiveSession
from emotion_core.registry import add_person, load_registry, remove_person, set_baseline, validate_name
from emotion_core.store import EmotionLog, Observation
from emotion_core.visitors import VisitorBook

SAD_REST = np.array([0.02, 0.08, 0.85, 0.02, 0.01, 0.01, 0.01, 0.0])  # a calm face the model reads as Sad


def row(**probabilities: float) -> np.ndarray:
    vector = np.array([probabilities.get(label, 0.0) for label in LABELS])
    return vector / vector.sum()


def test_the_resting_face_reads_neutral_and_departures_stand_out():
    baseline = make_baseline([SAD_REST, SAD_REST * 0.9 + 0.1 / len(LABELS)], "faceapi").vector()
    assert LABELS[int(np.argmax(correct(SAD_REST, baseline)))] == "Neutral"
    happy = row(Happy=0.7, Sad=0.3)
    assert LABELS[int(np.argmax(correct(happy, baseline)))] == "Happy"
    sadder = row(Sad=0.999, Neutral=0.001)  # even sadder than at rest: no longer read as rest
    corrected = correct(np.vstack([SAD_REST, sadder]), baseline)
    assert corrected[1, LABELS.index("Sad")] > corrected[0, LABELS.index("Sad")]
    assert np.allclose(corrected.sum(axis=1), 1.0)


def test_a_baseline_of_another_model_is_not_used():
    baseline = make_baseline([SAD_REST], "hsemotion")
    assert usable_baseline({"Ann": baseline}, "Ann", "hsemotion") is baseline
    assert usable_baseline({"Ann": baseline}, "Ann", "faceapi") is None
    assert usable_baseline({"Ann": baseline}, "Bob", "hsemotion") is None


def encodings(seed: int, n: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, (n, 128))


def test_baselines_live_in_faces_pkl_and_go_with_the_person(faces_path):
    add_person(faces_path, "Ann", encodings(1))
    add_person(faces_path, "Bob", encodings(2))
    baseline = make_baseline([SAD_REST], "faceapi", recorded_at=1_700_000_000.0)
    set_baseline(faces_path, "Ann", baseline)
    loaded = load_registry(faces_path)
    assert loaded.baselines["Ann"] == Baseline(baseline.mean, 1, 1_700_000_000.0, "faceapi")
    assert "Bob" not in loaded.baselines
    add_person(faces_path, "Ann", encodings(3, 1))  # more photos keep the baseline
    assert "Ann" in load_registry(faces_path).baselines
    remove_person(faces_path, "Ann")
    assert load_registry(faces_path).baselines == {}
    with pytest.raises(EnrollmentError, match="no enrolled person"):
        set_baseline(faces_path, "Ann", baseline)
    set_baseline(faces_path, "Bob", baseline)
    set_baseline(faces_path, "Bob", None)
    assert load_registry(faces_path).baselines == {}


def test_a_registry_without_baselines_still_loads(faces_path):
    faces_path.write_bytes(pickle.dumps({"encodings": list(encodings(4)), "names": ["Ann", "Ann"], "version": 1}))
    registry = load_registry(faces_path)
    assert registry.people() == {"Ann": 2} and registry.baselines == {}


@pytest.mark.parametrize(
    "baselines, reason",
    [
        ({"Ann": {"mean": {}, "frames": 1, "recorded_at": 1.0, "model": "faceapi"}}, "one probability per label"),
        ({"Zed": make_baseline([SAD_REST], "faceapi").to_plain()}, "not enrolled"),
        ({"Ann": {**make_baseline([SAD_REST], "faceapi").to_plain(), "frames": 0}}, "positive integer"),
        ([1, 2], "must be a dict"),
    ],
)
def test_a_bad_baseline_is_refused_with_one_line(faces_path, baselines, reason):
    payload = {"encodings": list(encodings(5, 1)), "names": ["Ann"], "version": 1, "baselines": baselines}
    faces_path.write_bytes(pickle.dumps(payload))
    with pytest.raises(RegistryError, match=reason):
        load_registry(faces_path)


def test_visitor_labels_cannot_be_enrolled():
    for name in ("Visitor 1", "visitor 12"):
        with pytest.raises(EnrollmentError, match="reserved"):
            validate_name(name)
    assert validate_name("Visitor Centre") == "Visitor Centre"


def test_the_recorder_needs_enough_time_and_frames_of_the_person_alone():
    recorder = CalibrationRecorder("Ann", "faceapi", duration_s=5.0, min_frames=10)
    assert recorder.add([("Bob", SAD_REST)], 100.0).frames == 0  # not started until Ann is in view
    for i in range(12):
        state = recorder.add([("Ann", SAD_REST), ("Bob", row(Happy=1))], 101.0 + i * 0.5)
    assert state.done and state.frames == 11 and state.problem is None  # done at 5 s
    assert state.baseline is not None and state.baseline.model == "faceapi"
    assert max(state.baseline.mean, key=state.baseline.mean.__getitem__) == "Sad"

    slow = CalibrationRecorder("Ann", "faceapi", duration_s=5.0, min_frames=10)
    for i in range(4):  # a slow analysis: 5 s are over, but 10 frames are not there yet
        state = slow.add([("Ann", SAD_REST)], i * 2.0)
    assert not state.done and state.frames == 4 and state.elapsed_s == 5.0
    state = slow.add([("Ann", SAD_REST), ("Ann", SAD_REST)], 10.0)  # two faces with her name: ignored
    assert state.frames == 4
    state = slow.add([("Ann", SAD_REST)], 31.0)
    assert state.done and state.baseline is None and "only 5 frames" in state.problem


def face(track_id, name, scores, raw=None, encoding=None):
    return AnalyzedFace(track_id, (10, 60, 60, 10), name, 0.3, dict(zip(LABELS, scores)), raw, encoding)


def test_observations_keep_the_raw_emotion_of_calibrated_readings():
    log = EmotionLog("sqlite://")
    session = LiveSession(Settings(sample_period=0.5), log)
    session.start_counting(now=1000.0)
    calibrated = face(1, "Ann", row(Neutral=0.9, Sad=0.1), raw=dict(zip(LABELS, SAD_REST)))
    session.observe([calibrated, face(2, "Bob", row(Happy=1))], 1000.0)
    final = session.stop_counting(now=1001.0)
    log.flush()
    rows = {o.person: (o.emotion, o.raw_emotion) for o in log.observations(final.session_id)}
    assert rows == {"Ann": ("Neutral", "Sad"), "Bob": ("Happy", None)}
    assert {p.name: dict(p.counts)["Neutral"] for p in final.people}["Ann"] == 1  # counted calibrated
    log.close()


def test_visitors_are_counted_apart_and_only_when_unknown_faces_count():
    session = LiveSession(Settings(sample_period=0.5, count_unknown=False))
    session.start_counting(now=1000.0)
    faces = [face(1, "Visitor 1", row(Happy=1)), face(2, "Visitor 2", row(Sad=1)), face(3, UNKNOWN, row(Sad=1))]
    session.observe(faces, 1000.0)
    assert session.snapshot().people == ()
    session.update_settings(count_unknown=True)
    session.observe(faces, 1000.6)
    counts = {p.name: p.total for p in session.snapshot().people}
    assert counts == {"Visitor 1": 1, "Visitor 2": 1, UNKNOWN: 1}


def test_an_enrolled_visitor_s_observations_take_the_new_name():
    log = EmotionLog("sqlite://")
    session = LiveSession(Settings(sample_period=0.5), log)
    session.start_counting(now=1000.0)
    for i in range(4):
        encoding = tuple(np.full(128, 0.01 * i)) if i % 2 == 0 else None
        session.observe([face(7, "Visitor 1", row(Happy=1), encoding=encoding)], 1000.0 + i * 0.5)
    assert len(session.visitor_encodings("Visitor 1")) == 2
    log.flush()  # some rows stored, the next ones still pending
    session.observe([face(7, "Visitor 1", row(Sad=1))], 1002.0)
    session.rename_visitor("Visitor 1", "Cleo")
    session.observe([face(7, "Visitor 1", row(Sad=1))], 1002.5)  # the track still says Visitor 1
    assert session.visitor_encodings("Visitor 1") == []
    session.observe([face(8, "Visitor 2", row(Happy=1), encoding=tuple(np.zeros(128)))], 1002.6)
    final = session.stop_counting(now=1003.0)
    assert [(p.name, p.total) for p in final.people] == [("Cleo", 6), ("Visitor 2", 1)]
    log.flush()
    assert {o.person for o in log.observations(final.session_id)} == {"Cleo", "Visitor 2"}
    assert len(session.visitor_encodings("Visitor 2")) == 1
    session.close()  # the end of the browser session: visitors' encodings are dropped
    assert session.visitor_encodings("Visitor 2") == []
    log.close()


def test_an_emotion_log_made_before_calibration_gains_the_raw_emotion_column(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at FLOAT NOT NULL, ended_at FLOAT,"
        " model VARCHAR(64), settings JSON NOT NULL, final JSON);"
        "CREATE TABLE observations (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL REFERENCES sessions(id),"
        " timestamp FLOAT NOT NULL, person VARCHAR(200) NOT NULL, emotion VARCHAR(16) NOT NULL,"
        " probability FLOAT NOT NULL);"
        "INSERT INTO sessions VALUES (1, 1.0, 2.0, 'faceapi', '{}', NULL);"
        "INSERT INTO observations VALUES (1, 1, 1.5, 'Ann', 'Sad', 0.9);"
    )
    old.commit()
    old.close()
    log = EmotionLog(f"sqlite:///{path}")
    assert log.observations(1) == [Observation(1.5, "Ann", "Sad", 0.9, None)]
    session_id = log.start_session(3.0, "faceapi", {})
    log.add_observations(session_id, [Observation(3.5, "Ann", "Neutral", 0.8, "Sad")])
    assert log.flush()
    assert log.observations(session_id) == [Observation(3.5, "Ann", "Neutral", 0.8, "Sad")]
    log.close()


def test_the_visitor_book_keeps_labels_by_track_and_refinds_by_face():
    book = VisitorBook()
    a, b = np.zeros(128), np.full(128, 0.1)  # 1.13 apart: two people
    assert book.label(1, a, 0.55) == "Visitor 1"
    assert book.label(2, b, 0.55) == "Visitor 2"
    assert book.label(1, None, 0.55) == "Visitor 1"
    assert book.label(3, a + 0.01, 0.55) == "Visitor 3"  # near Visitor 1, but they are in view on track 1
    book.keep_tracks([2, 3])  # track 1 ended
    assert book.label(4, a + 0.02, 0.55) == "Visitor 1"  # back: a visitor not in view, within tolerance
    book.keep_tracks([2, 3, 4])
    assert book.label(5, np.full(128, 0.5), 0.55) == "Visitor 4"


def test_a_stranger_taking_a_visitor_s_place_on_a_track_is_told_apart():
    book = VisitorBook()
    a, b = np.zeros(128), np.full(128, 0.1)
    assert book.label(1, a, 0.55) == "Visitor 1"
    assert book.label(1, b, 0.55) == "Visitor 1"  # one stray encoding changes nothing
    assert book.label(1, a, 0.55) == "Visitor 1"
    assert book.label(1, b, 0.55) == "Visitor 1"
    assert book.label(1, b + 0.01, 0.55) == "Visitor 2"  # twice in a row: another face on the track
    assert book.label(1, b, 0.55) == "Visitor 2"
