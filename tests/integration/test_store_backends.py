"""The emotion log on both backends (a SQLite file and a real PostgreSQL server): no lost rows after
the database refused writes, deletes that stay final when other servers write late, timeouts."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import create_engine, text

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import DbTimeouts, Settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.store import EmotionLog, Observation, forget_person_records


def face(track_id: int, name: str, emotion: str = "Happy") -> AnalyzedFace:
    scores = {label: (0.93 if label == emotion else 0.01) for label in LABELS}
    return AnalyzedFace(track_id, (10, 60, 60, 10), name, 0.3, scores)


def feed(session: LiveSession, faces: list[AnalyzedFace], seconds: float, start: float, fps: int = 20) -> None:
    for i in range(int(seconds * fps)):
        session.observe(faces, start + i / fps)


def rows(url: str, query: str) -> list[tuple]:
    """Read the database with a plain SQLAlchemy connection (not through the code under test)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def refusing_writes(url: str) -> Iterator[None]:
    """Another client holds the tables locked: SQLite BEGIN EXCLUSIVE, PostgreSQL LOCK TABLE."""
    if url.startswith("sqlite"):
        blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            blocker.rollback()
            blocker.close()
        return
    with psycopg.connect(libpq(url)) as blocker:
        blocker.execute("LOCK TABLE sessions, observations IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            blocker.rollback()


@pytest.fixture
def log(any_db_url: str) -> Iterator[EmotionLog]:
    emotion_log = EmotionLog(any_db_url)
    yield emotion_log
    emotion_log.close()


def test_a_session_started_while_refused_keeps_every_later_row_its_end_and_final(log, any_db_url):
    """Issue 14, item 1: rows counted after recovery, the end time and the final were dropped."""
    log.start_session(0.0, None, {})  # the tables exist
    assert log.flush()
    with refusing_writes(any_db_url):
        session = LiveSession(Settings(), log)
        session.start_counting(now=10.0)
        feed(session, [face(1, "Ann")], 2.0, start=10.0)
        assert session.snapshot().session_id is None and session.snapshot().store_error
    assert log.flush(timeout=15.0)  # the session row and the first rows are stored
    stored = session.snapshot().session_id
    assert stored is not None
    feed(session, [face(1, "Ann")], 3.0, start=12.0)  # counted after recovery
    final = session.stop_counting(now=15.0)
    assert log.flush(timeout=15.0) and log.last_error is None
    assert final.total == 10
    assert rows(any_db_url, f"SELECT count(*) FROM observations WHERE session_id = {stored}") == [(10,)]
    (info,) = [s for s in log.sessions() if s.id == stored]
    assert info.ended_at == 15.0 and info.observations == 10
    assert info.final_scores() is not None and info.final_scores().total == 10
    assert not log.was_deleted(stored)


@pytest.fixture
def other_server(any_db_url: str) -> Iterator[EmotionLog]:
    """The emotion log of another app server on the same database."""
    emotion_log = EmotionLog(any_db_url)
    yield emotion_log
    emotion_log.close()


def counting(log: EmotionLog, seconds: float) -> tuple[LiveSession, int]:
    """A session counting Ann from t=100 for `seconds`, stored; return it and its stored id."""
    session = LiveSession(Settings(), log)
    session.start_counting(now=100.0)
    feed(session, [face(1, "Ann")], seconds, start=100.0)
    assert log.flush()
    return session, session.snapshot().session_id


def test_late_rows_of_a_session_deleted_on_another_server_are_refused(log, other_server, any_db_url):
    session, stored = counting(log, 2.0)
    other_server.delete_session(stored)
    feed(session, [face(1, "Ann")], 2.0, start=102.0)
    session.stop_counting(now=104.0)
    assert log.flush()
    assert log.was_deleted(stored) and log.last_error is None
    assert rows(any_db_url, "SELECT count(*) FROM observations") == [(0,)]
    assert rows(any_db_url, "SELECT count(*) FROM sessions") == [(0,)]
    # A new session never reuses the deleted id (SQLite would, without the tombstone).
    fresh = log.start_session(200.0, None, {})
    assert fresh > stored and not log.was_deleted(fresh)


def test_delete_all_on_another_server_is_final(log, other_server, any_db_url):
    session, stored = counting(log, 1.0)
    other_server.delete_all()
    assert other_server.sessions() == []
    feed(session, [face(1, "Ann")], 5.0, start=101.0)
    assert log.flush()
    assert log.was_deleted(stored)
    assert rows(any_db_url, "SELECT count(*) FROM observations") == [(0,)]


def test_a_forgotten_person_is_not_written_back_by_another_server(log, other_server, any_db_url):
    session = LiveSession(Settings(), log)
    now = time.time()
    session.start_counting(now=now)
    feed(session, [face(1, "Ann Example"), face(2, "Bob")], 2.0, start=now)
    assert log.flush()
    with refusing_writes(any_db_url):  # this server's next rows wait in memory...
        feed(session, [face(1, "Ann Example"), face(2, "Bob")], 2.0, start=now + 2)
        assert not log.flush(timeout=3.0)
    assert other_server.forget_person("Ann Example") >= 4  # ...while another server forgets Ann
    session.stop_counting(now=now + 4)
    assert log.flush(timeout=15.0)
    assert rows(any_db_url, "SELECT DISTINCT person FROM observations") == [("Bob",)]
    (info,) = log.sessions()
    assert list(info.final["people"]) == ["Bob"]
    bob = info.final["people"]["Bob"]
    assert (info.final["total"], info.final["overall_points"], info.final["overall_score"]) == (
        bob["total"],
        bob["points"],
        bob["score"],
    )
    # The name is in no column of any table; the tombstone keeps a salted hash.
    for (table,) in rows(
        any_db_url,
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        if any_db_url.startswith("sqlite")
        else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    ):
        for row in rows(any_db_url, f"SELECT * FROM {table}"):
            assert "Ann Example" not in repr(row), table
    assert len(rows(any_db_url, "SELECT name_hash FROM forgotten_people")[0][0]) == 64


def test_the_person_counted_again_well_after_a_forget_is_stored(log):
    log.forget_person("Ann")
    session = log.start_session(time.time() + 60, None, {})
    log.add_observations(session, [Observation(time.time() + 60, "Ann", "Happy", 0.9)])
    assert log.flush()
    assert [o.person for o in log.observations(session)] == ["Ann"]


def test_rows_queued_from_several_threads_while_batches_are_written_are_all_stored(log):
    sessions = [log.start_session(time.time(), None, {}) for _ in range(4)]
    stop = time.monotonic() + 3.0
    counts = [0] * len(sessions)

    def write(index: int) -> None:
        while time.monotonic() < stop:
            log.add_observations(sessions[index], [Observation(time.time(), "Ann", "Happy", 0.9)] * 5)
            counts[index] += 5
            time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.flush(30)
    assert [len(log.observations(s)) for s in sessions] == counts


def test_a_stuck_peer_transaction_costs_seconds_not_minutes(any_db_url):
    """start_session waits at most the lock timeout, then continues with a provisional id."""
    log = EmotionLog(any_db_url, DbTimeouts(lock_s=1.0, statement_s=2.0))
    try:
        log.start_session(0.0, None, {})
        with refusing_writes(any_db_url):
            began = time.monotonic()
            key = log.start_session(1.0, None, {})
            waited = time.monotonic() - began
            assert key < 0 and log.last_error
            print(f"\nstart_session against a locked {any_db_url.split(':')[0]} returned after {waited:.2f} s")
        assert log.flush(15) and log.stored_id(key) is not None
    finally:
        log.close()


def test_forget_counts_the_stored_totals_again_with_the_session_weights(log, any_db_url):
    weights = {"Happy": 1.0, "Sad": -1.0}  # not the defaults: the stored weights must be used
    session = LiveSession(Settings(weights=weights), log)
    session.start_counting(now=100.0)
    feed(session, [face(1, "Ann", "Angry"), face(2, "Bob", "Happy"), face(3, "Cy", "Sad")], 2.0, start=100.0)
    before = session.stop_counting(now=102.0)
    assert log.flush()
    assert (before.total, before.overall_points) == (12, 4 * 1.0 + 4 * -1.0 + 4 * -2.0)
    forgetting = EmotionLog(any_db_url)  # what `python -m emotion_core forget` does, in another process
    try:
        assert forgetting.forget_person("Ann") == 4
    finally:
        forgetting.close()
    (info,) = log.sessions()
    assert list(info.final["people"]) == ["Bob", "Cy"]
    # Bob 4 x +1 and Cy 4 x -1: mean 0 on the range [-2, +2], a score of 50.
    assert (info.final["total"], info.final["overall_points"], info.final["overall_score"]) == (8, 0.0, 50.0)
    assert forget_person_records(any_db_url, "Bob") == 4
    assert forget_person_records(any_db_url, "Cy") == 4
    (info,) = log.sessions()
    assert info.final == {"people": {}, "overall_score": None, "overall_points": 0.0, "total": 0}
