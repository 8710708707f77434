"""Fixtures for the Streamlit page tests: a temporary registry and database, AppTest runners."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
import streamlit_webrtc.component
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.app.apphelpers import PERSON, PERSON_DIR
from tests.data import PROJECT_ROOT, photos

APP_TIMEOUT_S = 180


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, faces_path: Path, db_url: str) -> dict[str, str]:
    """Point the app at a fresh registry and database, and let AppTest render the camera component.

    AppTest has no real Streamlit runtime, so streamlit-webrtc's session lookup
    (`get_this_session_info`, which reads `Runtime.instance()._session_mgr`) fails there; it is
    replaced by "no session", the value it returns outside a live run. The rest of the component
    and every line of our own code run as in production.
    """
    monkeypatch.setenv("EMOTION_FACES", str(faces_path))
    monkeypatch.setenv("EMOTION_DB_URL", db_url)
    monkeypatch.delenv("EMOTION_MODEL", raising=False)
    monkeypatch.delenv("EMOTION_MODELS_DIR", raising=False)
    monkeypatch.setattr(streamlit_webrtc.component, "get_this_session_info", lambda: None)
    yield {"faces": str(faces_path), "db": db_url}
    st.cache_resource.clear()


@pytest.fixture
def page(app_env: dict[str, str]) -> Callable[[str], AppTest]:
    """Run one page (path relative to the project) in a fresh AppTest and return it."""

    def run(path: str) -> AppTest:
        return AppTest.from_file(str(PROJECT_ROOT / path), default_timeout=APP_TIMEOUT_S).run()

    return run


@pytest.fixture
def enrolled(app_env: dict[str, str], faces_path: Path) -> Path:
    """PERSON enrolled from all photos but the last; returns the held-out photo."""
    from emotion_core.recognition import enroll

    pictures = photos(PERSON_DIR)
    enroll(faces_path, PERSON, pictures[:-1], tolerance=0.55)
    return pictures[-1]


@pytest.fixture
def downloads(monkeypatch) -> list[tuple[bytes, str, str | None]]:
    """Every file the page hands to Streamlit's media storage (download button data)."""
    stored: list[tuple[bytes, str, str | None]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        stored.append((path_or_data, mimetype, filename))
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return stored
