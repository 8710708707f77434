"""Soak test: the live pipeline over the looped Hamilton clip for minutes, counting toggled on and off.

No exception, memory growth under 50 MB after warm-up, and the counts of every counting period equal
to what the database holds. Length: EMOTION_SOAK_SECONDS (default 60; run it with 300 or more
before a release). The figures are printed (run with -s to see them).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator

import psutil
import pytest

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import load_settings
from emotion_core.emotions import load_emotion_model
from emotion_core.live import LiveSession
from emotion_core.overlay import draw_faces
from emotion_core.recognition import enroll
from emotion_core.registry import load_registry
from emotion_core.store import EmotionLog
from emotion_core.video import VideoFrame, read_frames
from tests.data import HAMILTON, photos

pytestmark = [pytest.mark.soak, pytest.mark.requires_data]

SOAK_SECONDS = float(os.environ.get("EMOTION_SOAK_SECONDS", "60"))
WARM_UP_S = min(20.0, SOAK_SECONDS / 4)
COUNT_ON_S, COUNT_OFF_S = 9.0, 4.0
MAX_GROWTH_MB = 50.0
PERSON = "Lin-Manuel Miranda"


def looped(path) -> Iterator[VideoFrame]:
    while True:
        yield from read_frames(path)


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def test_soak(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="emotion_core")
    settings = load_settings({}, faces_path=tmp_path / "faces.pkl", db_url=f"sqlite:///{tmp_path / 'soak.db'}")
    enroll(settings.faces_path, PERSON, photos("lin_manuel_miranda"), tolerance=settings.tolerance)
    model = load_emotion_model(settings.emotion_model, settings.models_dir)
    log = EmotionLog(settings.db_url)
    session = LiveSession(settings, log, model.name)
    analyzer = FrameAnalyzer(load_registry(settings.faces_path), model, settings)

    # The page reads snapshots from another thread while frames are processed, as in the app.
    stop, reader_errors, snapshots = threading.Event(), [], [0]

    def read_snapshots() -> None:
        try:
            while not stop.wait(0.25):
                snapshot = session.snapshot()
                assert snapshot.store_error is None, snapshot.store_error
                snapshots[0] += 1
        except BaseException as exc:  # reported by the main thread
            reader_errors.append(exc)

    reader = threading.Thread(target=read_snapshots, daemon=True)
    reader.start()
    finals, frames, faces_seen = [], 0, 0
    rss_start = rss_warm = rss_mb()
    rss_peak = rss_start
    started = time.monotonic()
    next_toggle = started + COUNT_ON_S
    session.start_counting()
    try:
        for frame in looped(HAMILTON):
            now = time.monotonic()
            if now - started >= SOAK_SECONDS:
                break
            faces = analyzer.analyze(frame.bgr, time.time())
            draw_faces(frame.bgr.copy(), faces)
            session.observe(faces, time.time())
            frames, faces_seen = frames + 1, faces_seen + len(faces)
            if now >= next_toggle:
                if session.snapshot().counting:
                    finals.append(session.stop_counting())
                    next_toggle = now + COUNT_OFF_S
                else:
                    session.start_counting()
                    next_toggle = now + COUNT_ON_S
            if frames % 50 == 0:
                rss = rss_mb()
                rss_peak = max(rss_peak, rss)
                if rss_warm == rss_start and now - started >= WARM_UP_S:
                    rss_warm = rss
        if session.snapshot().counting:
            finals.append(session.stop_counting())
    finally:
        stop.set()
        reader.join(5)
        session.close()
    assert not reader_errors, reader_errors
    assert log.flush(30) and log.last_error is None
    elapsed = time.monotonic() - started
    rss_end = rss_mb()

    total = sum(final.total for final in finals)
    figures = {
        "seconds": round(elapsed, 1),
        "frames": frames,
        "fps": round(frames / elapsed, 2),
        "faces": faces_seen,
        "counting_periods": len(finals),
        "observations": total,
        "snapshots": snapshots[0],
        "rss_start_mb": round(rss_start, 1),
        "rss_after_warm_up_mb": round(rss_warm, 1),
        "rss_end_mb": round(rss_end, 1),
        "rss_peak_mb": round(rss_peak, 1),
        "growth_after_warm_up_mb": round(rss_end - rss_warm, 1),
    }
    print("\nsoak figures:", json.dumps(figures))
    assert rss_end - rss_warm < MAX_GROWTH_MB, figures
    # Counts of every counting period equal what the database holds for its session.
    stored = {info.id: info for info in log.sessions()}
    assert len(finals) >= 2 and len(stored) == len(finals)
    for final in finals:
        assert final.session_id in stored
        in_db = Counter((o.person, o.emotion) for o in log.observations(final.session_id))
        in_memory = Counter({(p.name, label): n for p in final.people for label, n in p.counts.items() if n})
        assert in_db == in_memory, final.session_id
        assert stored[final.session_id].final["total"] == final.total == sum(in_db.values())
    assert total > 0 and PERSON in {p.name for final in finals for p in final.people}
    log.close()
    # People's names never reach logs above debug level.
    assert not [r for r in caplog.records if r.levelno > logging.DEBUG and PERSON in r.getMessage()]
