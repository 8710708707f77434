"""Calibration and visitors on the pages: Calibrate on the Live page, Enroll this visitor…, the
Enroll page's Calibrated column, History's raw/calibrated toggle."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.calibration import make_baseline
from emotion_core.config import load_settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.registry import load_registry, set_baseline
from emotion_core.store import EmotionLog
from tests.app.apphelpers import PERSON, button, frame_from_photo, texts, video_frame
from tests.data import photos
from ui import keys, resources
from ui.camera import make_frame_callback

APP = "app.py"


def stream(at: AppTest, photo, until: Callable[[], bool], timeout_s: float = 90.0) -> None:
    """Feed real frames of `photo` through the camera callback at about 15 fps until `until()`."""
    parts = at.session_state[keys.LIVE_PARTS]
    callback = make_frame_callback(parts.stream)
    bgr = frame_from_photo(photo)
    deadline = time.monotonic() + timeout_s
    index = 0
    while not until():
        assert time.monotonic() < deadline, f"gave up waiting ({parts.stream.stats()}, {parts.stream.problem})"
        callback(video_frame(bgr, pts=index))
        index += 1
        time.sleep(1 / 15)


@pytest.fixture(autouse=True)
def faceapi_app(app_env, monkeypatch):
    """These pages run the faceapi backend: baselines record the model that made them."""
    monkeypatch.setenv("EMOTION_MODEL", "faceapi")


@pytest.mark.requires_data
def test_calibrate_an_enrolled_person_in_view(page, enrolled, faces_path, faceapi_model):
    at = page(APP)
    session = at.session_state[keys.LIVE_PARTS].session
    stream(at, enrolled, lambda: any(face.name == PERSON for face in session.snapshot().faces))
    at.run()
    button(at, f"Calibrate {PERSON}").click().run()
    assert session.calibration() is not None and not session.calibration().done
    at.run()
    assert "Cancel calibration" in [b.label for b in at.button]  # a progress bar and a way out
    stream(at, enrolled, lambda: session.calibration().done)
    at.run()
    assert not at.exception
    baseline = load_registry(faces_path).baselines[PERSON]
    assert baseline.frames >= 10 and baseline.model == "faceapi"
    assert f"Calibrated {PERSON}" in texts(at)
    at.session_state[keys.LIVE_PARTS].stream.stop()


@pytest.mark.requires_data
def test_a_baseline_of_another_model_is_noted(page, enrolled, faces_path, faceapi_model):
    set_baseline(faces_path, PERSON, make_baseline([np.eye(len(LABELS))[2]], "hsemotion"))
    at = page(APP)
    assert f"{PERSON}'s baseline was made with hsemotion, so it is ignored with faceapi" in texts(at)


@pytest.mark.requires_data
def test_enroll_this_visitor(page, faces_path, faceapi_model, db_url):
    at = page(APP)
    at.toggle(key="count_emotions").set_value(True).run()
    session = at.session_state[keys.LIVE_PARTS].session
    stranger = photos("kit_harington")[0]
    stream(at, stranger, lambda: len(session.visitor_encodings("Visitor 1")) >= 2)
    at.run()
    assert at.selectbox(key=keys.VISITOR_LABEL).value == "Visitor 1"
    at.text_input(key=keys.VISITOR_NAME).set_value("Kit Harington")
    button(at, "Enroll visitor").click().run()
    assert "consent" in texts(at) and len(load_registry(faces_path)) == 0  # nothing without consent
    at.text_input(key=keys.VISITOR_NAME).set_value("Kit Harington")
    at.checkbox(key=keys.VISITOR_CONSENT).check()
    button(at, "Enroll visitor").click().run()
    assert not at.exception
    assert load_registry(faces_path).people() == {"Kit Harington": len(load_registry(faces_path))}
    assert [p.name for p in session.snapshot().people] == ["Kit Harington"]
    at.toggle(key="count_emotions").set_value(False).run()
    log = resources.emotion_log(load_settings())
    assert log.flush()
    assert {o.person for o in log.observations()} == {"Kit Harington"}
    at.session_state[keys.LIVE_PARTS].stream.stop()


@pytest.mark.requires_data
def test_enroll_page_shows_who_is_calibrated(page, enrolled, faces_path):
    set_baseline(faces_path, PERSON, make_baseline([np.eye(len(LABELS))[2]], "faceapi", recorded_at=1_700_000_000.0))
    at = page("ui/pages/enroll.py")
    table = at.dataframe[0].value
    assert list(table.columns) == ["Person", "Encodings", "Calibrated"]
    assert table.iloc[0]["Calibrated"].endswith("(faceapi, 1 frames)")


def test_history_shows_raw_or_calibrated_emotions(page, db_url):
    log = EmotionLog(db_url)
    session = LiveSession(load_settings(environ={}, db_url=db_url), log, model_name="faceapi")
    session.start_counting(now=1_700_000_000.0)
    sad = {label: 0.9 if label == "Sad" else 0.1 / 7 for label in LABELS}
    neutral = {label: 0.9 if label == "Neutral" else 0.1 / 7 for label in LABELS}
    session.observe([AnalyzedFace(1, (40, 140, 140, 40), PERSON, 0.3, neutral, sad)], 1_700_000_000.0)
    session.stop_counting(now=1_700_000_001.0)
    assert log.flush()
    log.close()
    at = page("ui/pages/history.py")
    assert at.dataframe[1].value.loc[PERSON, "Neutral"] == 1
    at.toggle(key=next(t.key for t in at.toggle if t.key.startswith("raw_emotions_"))).set_value(True).run()
    counts = at.dataframe[1].value
    assert counts.loc[PERSON, "Sad"] == 1 and counts.loc[PERSON, "Neutral"] == 0
