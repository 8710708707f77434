"""The emotion log on real SQLite files: storing, deleting, forgetting, and surviving a refusing database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import Settings
from emotion_core.errors import StoreError
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog, Observation, forget_person_records


def face(track_id: int, name: str, emotion: str = "Happy") -> AnalyzedFace:
    scores = {label: (0.93 if label == emotion else 0.01) for label in LABELS}
    return AnalyzedFace(track_id, (10, 60, 60, 10), name, 0.3, scores)


def feed(session: LiveSession, faces, seconds: float, start: float, fps: int = 20) -> None:
    for i in range(int(seconds * fps)):
        session.observe(faces, start + i / fps)


def db_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def rows(url: str, query: str) -> list[tuple]:
    """Read the database file directly with sqlite3 (not through the code under test)."""
    connection = sqlite3.connect(db_file(url))
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


@pytest.fixture
def log(db_url):
    emotion_log = EmotionLog(db_url)
    yield emotion_log
    emotion_log.close()


def test_a_session_is_stored_with_its_observations_and_final_scores(log, db_url):
    session = LiveSession(Settings(), log, model_name="faceapi")
    session.start_counting(now=1000.0)
    feed(session, [face(1, "Ann", "Happy"), face(2, "Bob", "Sad")], 3.0, start=1000.0)
    final = session.stop_counting(now=1003.0)
    assert log.flush()
    assert final.session_id is not None
    assert rows(db_url, "PRAGMA journal_mode") == [("wal",)]
    stored = rows(db_url, "SELECT person, emotion, count(*) FROM observations GROUP BY person, emotion ORDER BY 1")
    assert stored == [("Ann", "Happy", 6), ("Bob", "Sad", 6)]
    (info,) = log.sessions()
    assert (info.id, info.started_at, info.ended_at, info.model) == (final.session_id, 1000.0, 1003.0, "faceapi")
    assert info.people == ["Ann", "Bob"] and info.observations == 12
    assert info.final["people"]["Bob"]["score"] == 25.0 and info.final["overall_score"] == 62.5
    observations = log.observations(final.session_id)
    assert observations[0] == Observation(1000.0, "Ann", "Happy", pytest.approx(0.93))


def test_export_csv(log, tmp_path):
    session_id = log.start_session(5.0, None, {})
    log.add_observations(session_id, [Observation(5.0, "Ann", "Happy", 0.9), Observation(5.5, "Ann", "Sad", 0.6)])
    assert log.flush()
    target = tmp_path / "out.csv"
    assert log.export_csv(session_id, target) == 2
    assert target.read_text().splitlines() == [
        "timestamp,person,emotion,probability",
        "5.000,Ann,Happy,0.9000",
        "5.500,Ann,Sad,0.6000",
    ]
    with pytest.raises(StoreError, match="no session"):
        log.export_csv(session_id + 1, target)


def test_delete_all_leaves_nothing_in_the_file(log, db_url):
    session = LiveSession(Settings(), log)
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann")], 5.0, start=0.0)
    assert log.flush()
    feed(session, [face(1, "Ann")], 5.0, start=5.0)  # some rows still queued
    log.delete_all()
    session.clear()
    assert rows(db_url, "SELECT count(*) FROM observations") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM sessions") == [(1,)]  # the session counting restarted
    assert log.flush()
    assert rows(db_url, "SELECT count(*) FROM observations") == [(0,)]
    # Counting goes on into the new session.
    feed(session, [face(1, "Ann")], 1.0, start=20.0)
    session.stop_counting(now=21.0)
    assert log.flush()
    assert rows(db_url, "SELECT count(*) FROM observations") == [(2,)]
    log.delete_all()
    assert rows(db_url, "SELECT count(*) FROM observations") == [(0,)]
    assert rows(db_url, "SELECT count(*) FROM sessions") == [(0,)]
    assert log.sessions() == []


def test_delete_one_session(log, db_url):
    first = log.start_session(1.0, None, {})
    second = log.start_session(2.0, None, {})
    log.add_observations(first, [Observation(1.0, "Ann", "Happy", 0.9)])
    log.add_observations(second, [Observation(2.0, "Bob", "Happy", 0.9)])
    log.delete_session(first)
    assert log.flush()
    assert rows(db_url, "SELECT session_id, person FROM observations") == [(second, "Bob")]
    assert [s.id for s in log.sessions()] == [second]


def test_forget_person_removes_their_rows_and_final_scores(log, db_url):
    session = LiveSession(Settings(), log)
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann"), face(2, "Bob", "Sad")], 2.0, start=0.0)
    session.stop_counting(now=2.0)
    assert log.flush()
    assert log.forget_person("Ann") == 4
    assert rows(db_url, "SELECT DISTINCT person FROM observations") == [("Bob",)]
    assert list(log.sessions()[0].final["people"]) == ["Bob"]
    assert forget_person_records(db_url, "Bob") == 4
    assert rows(db_url, "SELECT count(*) FROM observations") == [(0,)]


def test_forget_without_a_database_file_creates_none(tmp_path):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert forget_person_records(url, "Ann") == 0
    assert not (tmp_path / "none.db").exists()


def test_a_locked_database_does_not_stop_counting(log, db_url):
    session = LiveSession(Settings(), log)
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann")], 1.0, start=0.0)
    assert log.flush()
    blocker = sqlite3.connect(db_file(db_url), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        feed(session, [face(1, "Ann")], 4.0, start=1.0)
        assert not log.flush(timeout=6.0)
        snapshot = session.snapshot()
        assert snapshot.total == 10
        assert "locked" in snapshot.store_error and "8 observations waiting" in snapshot.store_error
        final = session.stop_counting(now=5.0)  # the frozen scores do not wait for the database
        assert final.total == 10
    finally:
        blocker.rollback()
        blocker.close()
    assert log.flush(timeout=15.0)
    assert log.last_error is None and session.snapshot().store_error is None
    assert rows(db_url, "SELECT count(*) FROM observations") == [(10,)]
    assert rows(db_url, "SELECT final IS NOT NULL FROM sessions") == [(1,)]


def test_a_session_started_while_locked_is_stored_later(log, db_url):
    log.start_session(0.0, None, {})  # creates the file and the tables
    assert log.flush()
    blocker = sqlite3.connect(db_file(db_url), isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        session = LiveSession(Settings(), log)
        session.start_counting(now=10.0)
        feed(session, [face(1, "Ann")], 2.0, start=10.0)
        assert session.snapshot().total == 4
        assert session.snapshot().session_id is None and session.snapshot().store_error
    finally:
        blocker.rollback()
        blocker.close()
    assert log.flush(timeout=15.0)
    stored = session.snapshot().session_id
    assert stored is not None
    assert rows(db_url, f"SELECT count(*) FROM observations WHERE session_id = {stored}") == [(4,)]


def test_a_read_only_database_keeps_counting_and_keeps_its_data(db_url, tmp_path):
    writable = EmotionLog(db_url)
    old = writable.start_session(1.0, "faceapi", {"sample_period": 0.5})
    writable.add_observations(old, [Observation(1.0, "Ann", "Happy", 0.9)])
    writable.close()
    before = db_file(db_url).read_bytes()

    read_only = EmotionLog(f"sqlite:///file:{db_file(db_url)}?mode=ro&uri=true")
    try:
        session = LiveSession(Settings(), read_only)
        session.start_counting(now=100.0)
        feed(session, [face(1, "Bob", "Sad")], 3.0, start=100.0)
        final = session.stop_counting(now=103.0)
        assert final.total == 6 and final.people[0].score == 25.0
        assert not read_only.flush(timeout=3.0)
        assert "readonly" in read_only.last_error.replace(" ", "") or "read-only" in read_only.last_error
        assert [s.id for s in read_only.sessions()] == [old]  # reading still works
    finally:
        read_only.close()
    assert db_file(db_url).read_bytes() == before
    assert rows(db_url, "SELECT person FROM observations") == [("Ann",)]


def test_a_bad_url_is_a_store_error():
    with pytest.raises(StoreError):
        EmotionLog("not a url")
    with pytest.raises(StoreError):
        EmotionLog("nosuchdialect://x")


def test_the_schema_compiles_for_postgresql():
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateTable

    from emotion_core.store import metadata

    ddl = "\n".join(str(CreateTable(table).compile(dialect=postgresql.dialect())) for table in metadata.sorted_tables)
    assert "BIGSERIAL" in ddl and "DOUBLE PRECISION" in ddl and "JSON" in ddl
    assert "REFERENCES sessions (id) ON DELETE CASCADE" in ddl
