"""A real `streamlit run app.py` on 127.0.0.1 serves every page, and every page runs without errors.

The HTTP checks fetch what a browser fetches first; the pages' Python only runs when a browser
session asks for it, so each page is also run through Streamlit's own WebSocket protocol (the
messages the browser sends) and its output is checked for exceptions and for the expected title.
"""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.app.apphelpers import record_session
from tests.data import photos
from tests.servers import run_page, streamlit_server

pytestmark = pytest.mark.requires_data

PAGES = {"": "Live emotion recognition", "Enroll": "Enroll", "Video": "Video", "History": "History"}


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8", "replace")


@pytest.fixture
def server(tmp_path: Path, faces_path: Path, db_url: str) -> Iterator[tuple[str, Path]]:
    """The app served on a free port with a temporary registry (one person) and database (one session)."""
    from emotion_core.recognition import enroll

    enroll(faces_path, "Barack Obama", photos("barack_obama")[:2], tolerance=0.55)
    record_session(db_url, [("Barack Obama", "Happy"), ("Barack Obama", "Sad")], start=time.time() - 60)
    env = {**os.environ, "EMOTION_FACES": str(faces_path), "EMOTION_DB_URL": db_url}
    log_path = tmp_path / "streamlit.log"
    with streamlit_server(env, log_path, "--server.address", "127.0.0.1", "--server.headless", "true") as (_, _, base):
        yield base, log_path


def elements(messages: list[ForwardMsg], kind: str) -> list:
    return [
        m.delta.new_element
        for m in messages
        if m.WhichOneof("type") == "delta"
        and m.delta.WhichOneof("type") == "new_element"
        and m.delta.new_element.WhichOneof("type") == kind
    ]


def test_every_page_is_served_and_runs_without_errors(server):
    base, log_path = server
    for path in ("/", "/Enroll", "/Video", "/History"):
        status, body = get(base + path)
        assert status == 200 and '<div id="root">' in body.replace("'", '"'), path
    assert get(f"{base}/_stcore/health") == (200, "ok")

    for page_name, title in PAGES.items():
        messages = run_page(base, page_name)
        finished = messages[-1].script_finished
        assert finished == ForwardMsg.FINISHED_SUCCESSFULLY, (page_name, finished)
        assert elements(messages, "exception") == [], page_name
        errors = [e.alert.body for e in elements(messages, "alert") if e.alert.format == e.alert.ERROR]
        assert errors == [], (page_name, errors)
        assert title in [e.heading.body for e in elements(messages, "heading")], page_name
        if page_name == "History":
            assert elements(messages, "download_button"), "the recorded session offers its CSV"
        if page_name == "":
            components = elements(messages, "component_instance")
            assert [c.component_instance.component_name for c in components] == [
                "streamlit_webrtc.component.webrtc_streamer"
            ]

    log = log_path.read_text()
    assert "Traceback" not in log and "Error" not in log, log
