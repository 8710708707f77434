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
