"""kill -9 of a process counting emotions: the database opens, passes SQLite's integrity check, and
holds the observations up to the last few seconds before the kill."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from emotion_core.config import Settings
from emotion_core.recognition import enroll
from emotion_core.store import EmotionLog, Observation
from tests.data import HAMILTON, PROJECT_ROOT, photos

pytestmark = pytest.mark.requires_data

COUNT_BEFORE_KILL_S = 8.0
MAY_LOSE_S = 3.0  # the writer stores queued rows every 0.5 s; allow for a loaded machine

COUNTER = """
    import sys, time
    from emotion_core.analyzer import FrameAnalyzer
    from emotion_core.config import load_settings
    from emotion_core.emotions import load_emotion_model
    from emotion_core.live import LiveSession
    from emotion_core.registry import load_registry
    from emotion_core.store import EmotionLog, Observation
    from emotion_core.video import read_frames
    faces, db_url, video = sys.argv[1:4]
    settings = load_settings({}, faces_path=faces, db_url=db_url)
    model = load_emotion_model(settings.emotion_model, settings.models_dir)
    session = LiveSession(settings, EmotionLog(db_url), model.name)
    analyzer = FrameAnalyzer(load_registry(faces), model, settings)
    session.start_counting()
    while True:
        for frame in read_frames(video):
            now = time.time()
            session.observe(analyzer.analyze(frame.bgr, now), now)
            print(f"{now:.3f} {session.snapshot().total}", flush=True)
"""


def test_kill_9_while_counting_loses_at_most_the_last_seconds(tmp_path):
    faces, db = tmp_path / "faces.pkl", tmp_path / "emotions.db"
    enroll(faces, "Lin-Manuel Miranda", photos("lin_manuel_miranda"), tolerance=Settings().tolerance)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(COUNTER), str(faces), f"sqlite:///{db}", str(HAMILTON)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    progress: list[tuple[float, int]] = []
    try:
        first_count = None
        deadline = time.monotonic() + 300
        for line in child.stdout:
            stamp, total = line.split()
            progress.append((float(stamp), int(total)))
            if first_count is None and int(total) > 0:
                first_count = time.monotonic()
            if first_count is not None and time.monotonic() - first_count >= COUNT_BEFORE_KILL_S:
                break
            assert time.monotonic() < deadline, "the child never counted anything"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    killed_at, counted = progress[-1]
    assert counted > 0

    # SQLite itself: the file opens and is consistent (the WAL is replayed on open).
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT COUNT(*), MAX(timestamp) FROM observations").fetchone()
        sessions = conn.execute("SELECT COUNT(*), COUNT(ended_at) FROM sessions").fetchone()
    assert sessions == (1, 0)  # one session, never ended
    stored, last_stored = rows
    print(
        f"\nkill -9 figures: counted {counted}, stored {stored}, "
        f"last stored observation {killed_at - last_stored:.2f} s before the last counted frame"
    )
    # Everything counted more than MAY_LOSE_S before the kill is in the file; nothing is invented.
    counted_earlier = max((total for stamp, total in progress if stamp <= killed_at - MAY_LOSE_S), default=0)
    assert counted_earlier > 0
    assert counted_earlier <= stored <= counted
    assert last_stored >= killed_at - MAY_LOSE_S - 1.0

    # The product opens it again and goes on logging.
    log = EmotionLog(f"sqlite:///{db}")
    try:
        [info] = log.sessions()
        assert info.observations == stored and "Lin-Manuel Miranda" in info.people
        assert log.start_session(time.time(), "faceapi", {}) != info.id and log.flush(10)
        assert len(log.sessions()) == 2 and log.last_error is None
    finally:
        log.close()


def test_rows_queued_while_a_batch_is_being_written_are_never_lost(tmp_path):
    """The frame thread queues rows at any moment, also while the writer thread stores a batch."""
    log = EmotionLog(f"sqlite:///{tmp_path / 'emotions.db'}")
    try:
        session = log.start_session(time.time(), None, {})
        queued = 0
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            log.add_observations(session, [Observation(time.time(), "Ann", "Happy", 0.9)])
            queued += 1
            time.sleep(0.0005)
        assert log.flush(30)
        assert len(log.observations(session)) == queued
    finally:
        log.close()


WRITER = """
    import sys, time
    from emotion_core.store import EmotionLog, Observation
    log = EmotionLog(sys.argv[1])
    session = log.start_session(time.time(), None, {})
    while True:
        now = time.time()
        log.add_observations(session, [Observation(now, "Ann", "Happy", 0.9)] * 5)
        print(f"{now:.3f} 5", flush=True)
        time.sleep(0.05)
"""


def test_kill_9_of_a_writing_server_keeps_what_it_stored_on_both_backends(any_db_url):
    """A light writer (no video) killed with -9: everything queued more than a few seconds before
    the kill is stored, on SQLite and PostgreSQL alike, and the database goes on working."""
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(WRITER), any_db_url], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    queued: list[float] = []
    try:
        for line in child.stdout:
            queued.append(float(line.split()[0]))
            if queued[-1] - queued[0] >= 5.0:
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    log = EmotionLog(any_db_url)
    try:
        stored = log.observations()
        before = sum(5 for stamp in queued if stamp <= queued[-1] - MAY_LOSE_S)
        print(f"\nkill -9 ({any_db_url.split(':')[0]}): queued {5 * len(queued)}, stored {len(stored)}")
        assert before <= len(stored) <= 5 * len(queued)
        assert log.start_session(time.time(), None, {}) > 0 and log.flush() and log.last_error is None
    finally:
        log.close()


def test_a_restart_of_the_database_server_while_writing_loses_nothing(pg_url, postgres):
    log = EmotionLog(pg_url)
    try:
        session = log.start_session(time.time(), None, {})
        queued = 0
        end = time.monotonic() + 6.0
        restarted = False
        while time.monotonic() < end:
            log.add_observations(session, [Observation(time.time(), "Ann", "Happy", 0.9)] * 10)
            queued += 10
            if not restarted and time.monotonic() > end - 4.0:
                postgres.restart()  # the open connections are cut mid-stream
                restarted = True
            time.sleep(0.02)
        assert log.flush(30), log.last_error
        assert len(log.observations(session)) == queued and log.last_error is None
    finally:
        log.close()
