"""The live page (ui/pages/live.py, app.py's default page) under AppTest: sidebar controls,
counting, final scores, deletion, error panels."""

from __future__ import annotations

import gc
import time

import pytest
import streamlit_webrtc.component
from streamlit_webrtc.component import WebRtcStreamerState

from emotion_core.config import DEFAULT_WEIGHTS, load_settings
from emotion_core.labels import LABELS
from tests.app.apphelpers import PERSON, button, frame_from_photo, labels_of, texts, video_frame
from ui import keys, resources
from ui.camera import CAMERA_KEY, make_frame_callback

APP = "app.py"


def app_log():
    """The emotion log the app uses (the same cached instance), with its queue written out."""
    log = resources.emotion_log(load_settings())
    assert log.flush()
    return log


def count_frames(at, photo, timeout_s: float = 60.0) -> None:
    """Feed real frames through the camera's frame callback, as streamlit-webrtc would, until
    the analysis process has counted the person in them at least once."""
    parts = at.session_state[keys.LIVE_PARTS]
    callback = make_frame_callback(parts.stream)
    bgr = frame_from_photo(photo)
    deadline = time.monotonic() + timeout_s
    index = 0
    while not parts.session.snapshot().people:
        assert time.monotonic() < deadline, (
            f"the analysis process counted nobody ({parts.stream.stats()}, {parts.stream.problem})"
        )
        callback(video_frame(bgr, pts=index))
        index += 1
        time.sleep(1 / 30)
    parts.stream.stop()


def test_renders_controls_and_hints_without_errors(page):
    at = page(APP)
    assert not at.exception and not at.error
    assert [t.value for t in at.title] == ["Live emotion recognition"]
    assert at.toggle(key="count_emotions").label == "Count emotions"
    assert at.toggle(key="count_emotions").value is False
    assert "Delete all emotion records" in labels_of(at)
    # Nobody is enrolled: a hint links to the Enroll page.
    assert "Nobody is enrolled" in texts(at)
    assert [link.proto.page for link in at.get("page_link")] == ["Enroll"]
    # Weights default to the original design's and there is one per label.
    weights = {n.label: n.value for n in at.number_input if n.key.startswith("weight_")}
    assert weights == {label: DEFAULT_WEIGHTS[label] for label in LABELS}
    assert at.slider(key="tolerance").value == load_settings().tolerance
    assert "Privacy notice" in [e.label for e in at.expander]
    assert "Article 5(1)(f)" in texts(at)


@pytest.mark.requires_data
def test_counting_records_a_session_and_shows_final_confidence(page, enrolled, faceapi_model):
    at = page(APP)
    assert "Nobody is enrolled" not in texts(at)
    at.toggle(key="count_emotions").set_value(True).run()
    assert at.session_state[keys.LIVE_PARTS].session.snapshot().counting
    count_frames(at, enrolled)
    at.run()
    table = at.dataframe[0].value
    assert list(table.index) == [PERSON]
    assert table.loc[PERSON, "Total"] >= 1
    assert table.loc[PERSON, [*LABELS]].sum() == table.loc[PERSON, "Total"]
    assert "Final confidence" not in [h.value for h in at.header]

    at.toggle(key="count_emotions").set_value(False).run()
    assert not at.exception
    assert "Final confidence" in [h.value for h in at.header]
    assert PERSON in [m.label for m in at.metric]
    sessions = app_log().sessions()
    assert len(sessions) == 1
    assert sessions[0].ended_at is not None and sessions[0].people == [PERSON]
    assert sessions[0].final["people"][PERSON]["total"] == table.loc[PERSON, "Total"]


@pytest.mark.requires_data
def test_sidebar_weights_drive_the_score(page, enrolled, faceapi_model):
    at = page(APP)
    for label in LABELS:
        at.number_input(key=f"weight_{label}").set_value(-2.0)
    at.run()
    at.toggle(key="count_emotions").set_value(True).run()
    count_frames(at, enrolled)
    at.run()
    # Every emotion is worth -2 points, so whatever the model saw, the score is the minimum.
    assert at.dataframe[0].value.loc[PERSON, "Score"] == 0.0
    button(at, "Reset to defaults").click().run()
    assert {label: at.number_input(key=f"weight_{label}").value for label in LABELS} == dict(DEFAULT_WEIGHTS)


def test_delete_all_needs_confirmation(page):
    at = page(APP)
    at.toggle(key="count_emotions").set_value(True).run()
    at.toggle(key="count_emotions").set_value(False).run()
    assert len(app_log().sessions()) == 1

    button(at, "Delete all emotion records").click().run()
    assert "Yes, delete everything" in labels_of(at)
    button(at, "Cancel").click().run()
    assert "Yes, delete everything" not in labels_of(at)
    assert len(app_log().sessions()) == 1

    button(at, "Delete all emotion records").click().run()
    button(at, "Yes, delete everything").click().run()
    assert not at.exception
    assert app_log().sessions() == []
    assert "All emotion records were deleted." in [s.value for s in at.success]
    assert "Yes, delete everything" not in labels_of(at)


def test_delete_all_while_counting_stops_counting(page):
    at = page(APP)
    at.toggle(key="count_emotions").set_value(True).run()
    button(at, "Delete all emotion records").click().run()
    button(at, "Yes, delete everything").click().run()
    assert at.toggle(key="count_emotions").value is False
    assert not at.session_state[keys.LIVE_PARTS].session.snapshot().counting
    assert app_log().sessions() == []


def test_missing_emotion_model_shows_how_to_fetch_it(page, monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTION_MODEL", "faceapi")
    monkeypatch.setenv("EMOTION_MODELS_DIR", str(tmp_path / "no-models"))
    at = page(APP)
    assert not at.exception
    assert any("models fetch faceapi" in code.value for code in at.code)
    assert "No emotion model" in texts(at)
    assert "not available" in texts(at)


def test_corrupt_registry_is_an_error_panel(page, faces_path):
    faces_path.write_bytes(b"\x80\x04not a pickle at all")
    at = page(APP)
    assert not at.exception
    assert any("face registry cannot be read" in e.value for e in at.error)
    assert at.toggle(key="count_emotions").label == "Count emotions"


def test_unusable_database_is_an_error_panel(page, monkeypatch):
    monkeypatch.setenv("EMOTION_DB_URL", "nosuchdialect://nowhere/db")
    at = page(APP)
    assert not at.exception
    assert any("emotion database cannot be used" in e.value for e in at.error)
    assert button(at, "Delete all emotion records").disabled


@pytest.mark.parametrize(
    "variable, value, setting", [("EMOTION_TOLERANCE", "5", "tolerance"), ("EMOTION_REFRESH_S", "0", "refresh_s")]
)
def test_bad_setting_is_an_error_panel(page, monkeypatch, variable, value, setting):
    monkeypatch.setenv(variable, value)
    at = page(APP)
    assert not at.exception
    assert any("Configuration error" in e.value and setting in e.value for e in at.error)


def _stale_session_info(count: int):
    """What streamlit-webrtc's session lookup returns, reduced to the field its check reads."""
    return type("SessionInfo", (), {"script_run_count": count})()


def test_start_race_check_is_neutralised(page, monkeypatch):
    at = page(APP)
    context = at.session_state[CAMERA_KEY]
    context._set_state(WebRtcStreamerState(playing=True, signalling=False))
    # The race: the count stamped at the last render lags, and this run reads one 5 runs later.
    context._last_rendered_run_count = 3
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: _stale_session_info(8))
    at.run()
    assert not at.exception
    assert at.session_state[CAMERA_KEY].state.playing, "the stream was reset by the stale-count check"


def test_returning_from_another_page_resets_the_camera(page):
    at = page(APP)
    at.session_state[CAMERA_KEY]._set_state(WebRtcStreamerState(playing=True, signalling=False))
    at.run()
    assert at.session_state[CAMERA_KEY].state.playing
    at.switch_page("ui/pages/enroll.py").run()
    at.switch_page("ui/pages/live.py").run()
    assert not at.exception
    # The frontend remounted with a fresh START button: the old stream state must be gone.
    assert not at.session_state[CAMERA_KEY].state.playing


def test_closing_the_browser_session_ends_a_running_count(page):
    at = page(APP)
    at.toggle(key="count_emotions").set_value(True).run()
    assert app_log().sessions()[0].ended_at is None
    del at
    gc.collect()  # Streamlit drops a closed session's state; its live objects go with it
    [session] = app_log().sessions()
    assert session.ended_at is not None and session.final is not None
