"""Crafted messages to a real server with EMOTION_AUTH=required: reruns of every page and widget
events for buttons the browser session never got, sent over Streamlit's own WebSocket protocol."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import ClientConnection, connect

from emotion_core.accounts import Accounts
from emotion_core.audit import AuditLog
from emotion_core.store import EmotionLog
from tests.app.apphelpers import record_session
from tests.servers import RUN_TIMEOUT_S, streamlit_server

PASSWORDS = {"ada": "ada-secret-1", "vic": "vic-secret-1"}
PAGES = ["", "Enroll", "Video", "History", "Access"]


class BrowserSession:
    """One browser session of the app, speaking the WebSocket protocol directly."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.elements: list = []

    def run(self, page_name: str = "", widgets: dict[str, object] | None = None) -> list:
        """Rerun `page_name` with these widget values (True = a button press); return its elements."""
        message = BackMsg()
        message.rerun_script.page_name = page_name
        for widget_id, value in (widgets or {}).items():
            state = message.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            if value is True:
                state.trigger_value = True
            else:
                state.string_value = str(value)
        self.ws.send(message.SerializeToString())
        self.elements = []
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            forward = ForwardMsg()
            forward.ParseFromString(self.ws.recv(timeout=RUN_TIMEOUT_S))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                self.elements.append(forward.delta.new_element)
            elif kind == "script_finished" and forward.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.elements = []  # the run that signed in reruns at once: keep only the rerun's page
            elif kind == "script_finished":
                assert forward.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY, forward.script_finished
                return self.elements
        raise AssertionError(f"page {page_name!r} did not finish")

    def of(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def widget_id(self, kind: str, label: str) -> str:
        return next(w.id for w in self.of(kind) if w.label == label)

    def sign_in(self, name: str) -> None:
        self.run()
        self.run(
            "",
            {
                self.widget_id("text_input", "Username"): name,
                self.widget_id("text_input", "Password"): PASSWORDS[name],
                self.widget_id("button", "Sign in"): True,
            },
        )
        assert "Sign in" not in self.headings(), self.headings()

    def headings(self) -> list[str]:
        return [h.body for h in self.of("heading")]

    def buttons(self) -> list[str]:
        return [b.label for b in self.of("button")]


@pytest.fixture
def server(tmp_path: Path, faces_path: Path, db_url: str) -> Iterator[str]:
    """EMOTION_AUTH=required on 127.0.0.1 with an admin, a viewer and one recorded session."""
    record_session(db_url, [("Alice", "Happy"), ("Bob", "Sad")], start=time.time() - 60)
    accounts = Accounts(db_url)
    accounts.add("ada", "admin", PASSWORDS["ada"])
    accounts.add("vic", "viewer", PASSWORDS["vic"])
    env = {**os.environ, "EMOTION_FACES": str(faces_path), "EMOTION_DB_URL": db_url, "EMOTION_AUTH": "required"}
    options = ("--server.address", "127.0.0.1", "--server.headless", "true")
    with streamlit_server(env, tmp_path / "streamlit.log", *options) as (_, _, base):
        yield base


@pytest.fixture
def session(server: str) -> Iterator[object]:
    """`session()`: a new browser session on the server; all are closed after the test."""
    with ExitStack() as sockets:

        def open_session() -> BrowserSession:
            url = server.replace("http://", "ws://") + "/_stcore/stream"
            return BrowserSession(sockets.enter_context(connect(url, subprotocols=["streamlit"], max_size=None)))

        yield open_session


def test_crafted_reruns_of_every_page_get_only_the_sign_in_form(session):
    anonymous = session()
    for page_name in PAGES:
        anonymous.run(page_name)
        assert anonymous.headings() == ["Sign in"], page_name
        assert [t.label for t in anonymous.of("text_input")] == ["Username", "Password"]
        assert anonymous.buttons() == ["Sign in"]
        assert not anonymous.of("arrow_data_frame") and not anonymous.of("download_button")


def test_widget_events_for_buttons_a_session_never_got_do_nothing(session, db_url):
    admin = session()
    admin.sign_in("ada")
    admin.run("History")
    delete_all = admin.widget_id("button", "Delete all emotion records")
    admin.run("History", {delete_all: True})
    confirm = admin.widget_id("button", "Yes, delete everything")
    delete_one = admin.widget_id("button", "Delete this session")

    viewer = session()
    viewer.sign_in("vic")
    assert viewer.headings()[0] == "History"
    forged = {delete_all: True, confirm: True, delete_one: True}
    for page_name in PAGES:  # the admin's button ids, pressed from the viewer's session on every page
        viewer.run(page_name, forged)
        assert not [label for label in viewer.buttons() if "Delete" in label], page_name
        assert "Access and audit log" not in viewer.headings()
    anonymous = session()
    anonymous.run("History", forged)
    assert anonymous.headings() == ["Sign in"]
    assert len(EmotionLog(db_url).sessions()) == 1
    actions = {(e.actor, e.action, e.outcome) for e in AuditLog(db_url).entries()}
    assert ("ada", "sign-in", "ok") in actions and ("vic", "sign-in", "ok") in actions
    assert not any(action.startswith("delete") and outcome == "ok" for _, action, outcome in actions)
