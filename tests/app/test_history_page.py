"""The History page under AppTest: sessions table, selection, charts data, CSV download, deletion."""

from __future__ import annotations

import csv
import io

import pytest

from emotion_core.config import load_settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog, Observation
from tests.app.apphelpers import button, face, labels_of, record_session, texts

HISTORY = "ui/pages/history.py"
FIRST = [("Alice", "Happy"), ("Bob", "Sad"), ("Alice", "Neutral"), ("Alice", "Angry")]
SECOND = [("Carol", "Surprise"), ("Carol", "Happy")]


@pytest.fixture
def two_sessions(app_env, db_url) -> list[int]:
    """Two sessions recorded through a real LiveSession; ids oldest first."""
    record_session(db_url, FIRST, start=1_700_000_000)
    record_session(db_url, SECOND, start=1_700_003_600)
    log = EmotionLog(db_url)
    ids = [info.id for info in reversed(log.sessions())]
    log.close()
    return ids


def test_no_sessions(page):
    at = page(HISTORY)
    assert not at.exception
    assert [t.value for t in at.title] == ["History"]
    assert "No sessions recorded yet" in texts(at)


def test_sessions_table_and_newest_session_selected(page, two_sessions):
    at = page(HISTORY)
    assert not at.exception and not at.error
    table = at.dataframe[0].value
    assert list(table["Session"]) == two_sessions[::-1]
    assert list(table["People"]) == ["Carol", "Alice, Bob"]
    assert list(table["Observations"]) == [2, 4]
    assert list(table["Duration"]) == ["2 s", "4 s"]
    assert table["Final confidence"][1] == "Alice 67, Bob 25, Overall 56"
    assert f"Session {two_sessions[1]}" in [s.value for s in at.subheader]


def test_selecting_a_session_shows_its_counts_and_csv(page, two_sessions, downloads):
    first = two_sessions[0]
    at = page(HISTORY)
    at.selectbox(key="history_session").select(first).run()
    assert not at.exception
    assert f"Session {first}" in [s.value for s in at.subheader]
    counts = at.dataframe[1].value
    assert list(counts.index) == ["Alice", "Bob"]
    assert counts.loc["Alice", ["Happy", "Neutral", "Angry"]].tolist() == [1, 1, 1]
    assert counts.loc["Alice", "Total"] == 3 and counts.loc["Bob", "Sad"] == 1
    assert counts.loc[:, [*LABELS]].sum().sum() == len(FIRST)

    [download] = at.download_button
    assert download.label == "Download CSV"
    data, mimetype, filename = downloads[-1]
    assert mimetype.startswith("text/csv") and filename == f"emotion-session-{first}.csv"
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [(row["person"], row["emotion"]) for row in rows] == FIRST


def test_a_session_is_scored_with_its_own_weights(page, app_env, db_url, monkeypatch):
    """The detail view scores with the weights the session was counted with, like its final scores,
    whatever today's weights are."""
    log = EmotionLog(db_url)
    settings = load_settings(environ={}, db_url=db_url, weights={"Happy": -2.0, "Sad": 2.0})
    session = LiveSession(settings, log, model_name="faceapi")
    session.start_counting(now=1_700_000_000)
    for index, (name, emotion) in enumerate(FIRST):
        session.observe([face(index, name, emotion)], 1_700_000_000 + index)
    session.stop_counting(now=1_700_000_000 + len(FIRST))
    assert log.flush()
    log.close()
    monkeypatch.setenv("EMOTION_WEIGHTS", '{"Angry": 2}')

    at = page(HISTORY)
    assert not at.exception
    assert at.dataframe[0].value["Final confidence"][0] == "Alice 33, Bob 100, Overall 50"
    scores = at.dataframe[1].value["Score"]
    assert scores.round().to_dict() == {"Alice": 33, "Bob": 100}


def test_a_session_without_stored_weights_is_scored_with_the_defaults(page, app_env, db_url, monkeypatch):
    log = EmotionLog(db_url)
    session_id = log.start_session(1_700_000_000, "faceapi", {})
    rows = [Observation(1_700_000_000 + i, name, emotion, 0.8) for i, (name, emotion) in enumerate(FIRST)]
    log.add_observations(session_id, rows)
    assert log.flush()
    log.close()
    monkeypatch.setenv("EMOTION_WEIGHTS", '{"Angry": 2}')

    at = page(HISTORY)
    assert not at.exception
    assert at.dataframe[1].value["Score"].round().to_dict() == {"Alice": 67, "Bob": 25}


def test_delete_one_session_with_confirmation(page, two_sessions, db_url):
    newest = two_sessions[1]
    at = page(HISTORY)
    at = button(at, "Delete this session").click().run()
    assert f"Yes, delete session {newest}" in labels_of(at)
    at = button(at, "Cancel").click().run()
    assert f"Yes, delete session {newest}" not in labels_of(at)

    at = button(at, "Delete this session").click().run()
    at = button(at, f"Yes, delete session {newest}").click().run()
    assert not at.exception
    assert f"Deleted session {newest}." in [s.value for s in at.success]
    assert list(at.dataframe[0].value["Session"]) == [two_sessions[0]]
    log = EmotionLog(db_url)
    assert [info.id for info in log.sessions()] == [two_sessions[0]]
    log.close()


def test_delete_all_records_with_confirmation(page, two_sessions, db_url):
    at = page(HISTORY)
    at = button(at, "Delete all emotion records").click().run()
    at = button(at, "Yes, delete everything").click().run()
    assert not at.exception
    assert "No sessions recorded yet" in texts(at)
    log = EmotionLog(db_url)
    assert log.sessions() == [] and log.observations() == []
    log.close()


def test_unusable_database_is_an_error_panel(page, monkeypatch):
    monkeypatch.setenv("EMOTION_DB_URL", "nosuchdialect://nowhere/db")
    at = page(HISTORY)
    assert not at.exception
    assert any("emotion database cannot be used" in e.value for e in at.error)
