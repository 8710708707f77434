"""The Video page under AppTest: every refused upload stores nothing; a real clip is analysed in the
background and saved as a session named after the file; Cancel stores nothing."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from emotion_core.recognition import enroll
from tests.app.apphelpers import texts
from tests.clips import short_clip
from tests.data import photos
from ui import keys

VIDEO = "ui/pages/video.py"
JOB_KEY = keys.VIDEO_JOB
MIRANDA = "Lin-Manuel Miranda"


def sessions(db_url: str) -> list[tuple]:
    path = Path(db_url.removeprefix("sqlite:///"))
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        try:
            return conn.execute("SELECT id, settings, final FROM sessions").fetchall()
        except sqlite3.OperationalError:  # no table yet
            return []


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream"))
    return at.button(key="video_analyse").click().run()


def wait_done(at: AppTest, timeout: float = 300) -> AppTest:
    deadline = time.monotonic() + timeout
    while at.session_state[JOB_KEY].running:
        assert time.monotonic() < deadline, "the analysis did not finish"
        time.sleep(0.5)
    return at.run()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return short_clip(tmp_path_factory.mktemp("clip") / "stage.mp4", 4.5)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.txt", b"not a video", "notes.txt: unsupported file type (upload mp4, webm, mov, gif)"),
        ("broken.mp4", b"\x00\x00\x00\x18ftypmp42 truncated", "broken.mp4: not a video file (cannot be decoded)"),
        ("empty.webm", b"", "empty.webm: the file is empty"),
        ("huge.mov", b"\x00" * (50 * 1024 * 1024 + 1), "huge.mov: 50.0 MB is over the upload limit of 50 MB"),
    ],
    ids=["unsupported", "not-a-video", "empty", "oversized"],
)
def test_refused_upload_stores_nothing(page, db_url, name, data, reason):
    at = upload(page(VIDEO), name, data)
    assert not at.exception
    assert [e.value for e in at.error] == [f"Nothing was analysed or stored. {reason}"]
    assert JOB_KEY not in at.session_state
    assert sessions(db_url) == []


def test_analyse_without_a_file_asks_for_one(page, db_url):
    at = page(VIDEO).button(key="video_analyse").click().run()
    assert [e.value for e in at.error] == ["Choose a video file first."]
    assert sessions(db_url) == []


def test_unusable_database_disables_analysis(page, monkeypatch):
    monkeypatch.setenv("EMOTION_DB_URL", "nosuchdialect://nowhere/db")
    at = page(VIDEO)
    assert not at.exception
    assert "The emotion database cannot be used" in at.error[0].value
    assert at.button(key="video_analyse").disabled


@pytest.mark.requires_data
def test_a_clip_is_saved_as_a_session_named_after_the_file(page, db_url, faces_path, clip, faceapi_model):
    enroll(faces_path, MIRANDA, photos("lin_manuel_miranda"), tolerance=0.55)
    at = page(VIDEO)
    at.checkbox(key="video_annotate").check()
    at = wait_done(upload(at, "stage.mp4", clip.read_bytes()))
    assert not at.exception and not at.error
    job = at.session_state[JOB_KEY]
    assert job.report is not None and job.report.session_id is not None
    ((session, settings, final),) = sessions(db_url)
    assert session == job.report.session_id
    assert '"source": {"kind": "video", "name": "stage.mp4"}' in settings
    assert MIRANDA in final
    assert f"saved as session {session}" in texts(at)
    assert MIRANDA in [m.label for m in at.metric]
    assert len(at.get("vega_lite_chart")) == 3  # counts, score, emotions over the video
    assert job.annotated is not None and job.annotated.read_bytes()[4:8] == b"ftyp"
    assert not any(job.folder.glob("upload*")), "the uploaded video is deleted once analysed"


@pytest.mark.requires_data
def test_cancel_stores_nothing(page, db_url, clip, faceapi_model):
    at = upload(page(VIDEO), "stage.mp4", clip.read_bytes())
    assert at.session_state[JOB_KEY].running
    at.button(key="video_cancel").click().run()
    at = wait_done(at)
    assert "was cancelled; nothing was stored" in texts(at)
    assert sessions(db_url) == []
