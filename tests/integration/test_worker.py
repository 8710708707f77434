"""The analysis process of a camera stream: counting at any analysis rate, and its life cycle
(stopped on STOP, after idling, with the server process; restarted after a crash)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import psutil
import pytest

from emotion_core.config import Settings, load_settings
from emotion_core.images import load_image
from emotion_core.live import LiveSession
from emotion_core.recognition import enroll
from emotion_core.registry import load_registry
from emotion_core.store import EmotionLog
from emotion_core.stream import LiveStream
from tests.data import PROJECT_ROOT, photos

pytestmark = pytest.mark.requires_data

PERSON = "Barack Obama"


def wait_for(condition: Callable[[], object], what: str, timeout_s: float = 60.0) -> object:
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


def camera_frame(photo: Path) -> np.ndarray:
    rgb = load_image(photo)
    return cv2.cvtColor(cv2.resize(rgb, (640, 480)), cv2.COLOR_RGB2BGR)


@pytest.fixture
def settings(faces_path: Path, db_url: str) -> Settings:
    enroll(faces_path, PERSON, photos("barack_obama")[:1], tolerance=0.55)
    return load_settings(environ={}, faces_path=faces_path, db_url=db_url, emotion_model="faceapi")


class Camera:
    """Feeds one frame to a stream about 30 times a second on a thread, like streamlit-webrtc."""

    def __init__(self, stream: LiveStream, bgr: np.ndarray) -> None:
        self.stream, self.bgr = stream, bgr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.stream.note_frame()
            self.stream.submit(self.bgr, time.time())
            time.sleep(1 / 30)

    def __enter__(self) -> Camera:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def analysis_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("analysis-")]


def test_one_observation_per_sampling_period_however_slow_the_analysis(settings: Settings) -> None:
    """Analysis starved to one frame every 2 s, counting every 0.5 s: still one observation per
    person per period, all under the enrolled name."""
    settings = settings.replace(analysis_max_fps=0.5, sample_period=0.5)
    log = EmotionLog(settings.db_url)
    session = LiveSession(settings, log, model_name="faceapi")
    stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", session)
    with Camera(stream, camera_frame(photos("barack_obama")[1])):
        wait_for(lambda: session.snapshot().faces, "a first analysed frame")
        session.start_counting()
        wait_for(lambda: stream.stats().frames >= 7, "six more analysed frames", timeout_s=120)
        final = session.stop_counting()
    stream.close()
    assert final is not None and log.flush()
    rows = log.observations(final.session_id)
    assert {row.person for row in rows} == {PERSON}
    times = sorted(row.timestamp for row in rows)
    periods = (times[-1] - times[0]) / settings.sample_period + 1
    assert periods >= 10  # the analysis really was slower than the sampling period
    assert 0.9 <= len(rows) / periods <= 1.1
    log.close()


def test_stop_ends_the_process_and_its_thread(settings: Settings) -> None:
    stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", LiveSession(settings))
    with Camera(stream, camera_frame(photos("barack_obama")[1])):
        wait_for(lambda: stream.stats().frames >= 1, "an analysed frame")
        pid = stream.analysis_pid
        assert pid is not None and psutil.pid_exists(pid)
        stream.stop()
        time.sleep(0.2)  # frames keep coming: they start a new process, as the next START would
    stream.close()
    wait_for(lambda: not psutil.pid_exists(pid), "the analysis process to end", timeout_s=10)
    wait_for(lambda: stream.analysis_pid is None and not analysis_threads(), "no analysis left", timeout_s=10)


def test_prepare_starts_the_analysis_before_the_first_frame(settings: Settings) -> None:
    """START pressed: the process loads its models while the connection is set up, and the same
    process analyses the first frames; with no frames at all it ends like an idle one."""
    stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", LiveSession(settings))
    stream.prepare()
    pid = wait_for(lambda: stream.analysis_pid, "the prepared analysis process")
    stream.prepare()  # a second render while connecting starts nothing more
    with Camera(stream, camera_frame(photos("barack_obama")[1])):
        wait_for(lambda: stream.stats().frames >= 1, "an analysed frame")
        assert stream.analysis_pid == pid and stream.stats().restarts == 0
    stream.close()
    wait_for(lambda: not psutil.pid_exists(pid), "the analysis process to end", timeout_s=10)

    idle = LiveStream(
        settings.replace(analysis_idle_stop_s=1.0), load_registry(settings.faces_path), "faceapi", LiveSession(settings)
    )
    idle.prepare()
    unused = wait_for(lambda: idle.analysis_pid, "the prepared analysis process")
    wait_for(lambda: not psutil.pid_exists(unused), "the unused analysis process to end", timeout_s=20)
    idle.close()


def test_the_process_ends_when_frames_stop_coming(settings: Settings) -> None:
    settings = settings.replace(analysis_idle_stop_s=1.0)
    stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", LiveSession(settings))
    with Camera(stream, camera_frame(photos("barack_obama")[1])):
        wait_for(lambda: stream.stats().frames >= 1, "an analysed frame")
        pid = stream.analysis_pid
    wait_for(lambda: not psutil.pid_exists(pid), "the idle analysis process to end", timeout_s=10)
    wait_for(lambda: not analysis_threads(), "its receiver thread to end", timeout_s=10)
    stream.close()


def test_a_crashed_analysis_is_reported_and_restarted_while_the_video_goes_on(settings: Settings) -> None:
    session = LiveSession(settings)
    stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", session)
    with Camera(stream, camera_frame(photos("barack_obama")[1])) as camera:
        wait_for(lambda: stream.stats().frames >= 1, "an analysed frame")
        crashed = stream.analysis_pid
        os.kill(crashed, signal.SIGKILL)
        problem = wait_for(lambda: stream.problem, "the crash to be reported", timeout_s=10)
        assert "restarting" in str(problem)
        assert stream.video_fps() > 0  # frames kept flowing meanwhile
        frames = stream.stats().frames
        wait_for(lambda: stream.stats().frames > frames, "analysis to resume", timeout_s=60)
        assert stream.analysis_pid not in (None, crashed)
        assert stream.problem is None and stream.stats().restarts == 1
        assert camera.stream is stream
    stream.close()
    assert [face.name for face in session.snapshot().faces] == [PERSON]


SERVER = textwrap.dedent("""
    import sys, time
    import cv2
    from emotion_core.config import load_settings
    from emotion_core.images import load_image
    from emotion_core.live import LiveSession
    from emotion_core.registry import load_registry
    from emotion_core.stream import LiveStream

    if __name__ == "__main__":
        settings = load_settings(environ={}, faces_path=sys.argv[1], emotion_model="faceapi")
        stream = LiveStream(settings, load_registry(settings.faces_path), "faceapi", LiveSession(settings))
        bgr = cv2.cvtColor(cv2.resize(load_image(sys.argv[2]), (640, 480)), cv2.COLOR_RGB2BGR)
        while True:
            stream.submit(bgr, time.time())
            if stream.stats().frames:
                print(stream.analysis_pid, flush=True)
            time.sleep(1 / 30)
""")


def test_analysis_processes_end_with_the_server_process(settings: Settings, tmp_path: Path) -> None:
    """A server killed outright (no clean-up code runs) leaves no analysis process behind."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    server = subprocess.Popen(
        [sys.executable, str(script), str(settings.faces_path), str(photos("barack_obama")[1])],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        pid = int(server.stdout.readline())
        children = psutil.Process(server.pid).children(recursive=True)
        assert pid in [child.pid for child in children]
    finally:
        server.kill()
        server.wait()
    for child in children:
        wait_for(
            lambda child=child: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE,
            f"{child.name()} {child.pid} to end",
            timeout_s=15,
        )
