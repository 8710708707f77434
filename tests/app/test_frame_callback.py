"""The camera's frame callback with real frames, and the loopback ICE candidate workaround."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time

import av
import cv2
import numpy as np
import pytest

from emotion_core.config import load_settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.recognition import enroll
from emotion_core.registry import load_registry
from emotion_core.stream import LiveStream
from tests.app.apphelpers import PERSON, frame_from_photo, video_frame
from tests.data import GROUPS, PROJECT_ROOT, photos
from ui.camera import make_frame_callback


@pytest.fixture
def live(enrolled, faces_path, faceapi_model):
    """A camera stream with its real analysis process over the enrolled registry, counting."""
    settings = load_settings(environ={}, faces_path=faces_path)
    session = LiveSession(settings)
    stream = LiveStream(settings, load_registry(faces_path), faceapi_model.name, session)
    session.start_counting()
    yield stream
    stream.close()


def stream_until(stream: LiveStream, bgr: np.ndarray, done, timeout_s: float = 60.0, pts: int = 0):
    """Feed `bgr` through the frame callback at about 30 fps until `done(out_frame)`; the last output."""
    callback = make_frame_callback(stream)
    deadline = time.monotonic() + timeout_s
    while True:
        out = callback(video_frame(bgr, pts=pts))
        if done(out):
            return out
        assert time.monotonic() < deadline, "the analysis never produced what the test waits for"
        time.sleep(1 / 30)


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels the overlay changed: `after` against `before` sent through the same I420 conversion
    the callback uses for frames it draws on."""
    reference = av.VideoFrame.from_ndarray(cv2.cvtColor(before, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
    return np.any(reference.to_ndarray(format="bgr24") != after, axis=2)


@pytest.mark.requires_data
def test_overlay_is_drawn_on_the_face_and_the_person_is_counted(live, enrolled):
    bgr = frame_from_photo(enrolled)
    out = stream_until(live, bgr, lambda out: live.session.snapshot().people and live.overlay(time.time()), pts=3000)
    out = stream_until(live, bgr, lambda out: changed_pixels(bgr, out.to_ndarray(format="bgr24")).any(), pts=3000)

    assert (out.width, out.height) == (640, 480)
    assert out.pts == 3000 and out.time_base == video_frame(bgr).time_base
    snapshot = live.session.snapshot()
    [face] = snapshot.faces
    assert face.name == PERSON and face.emotion in LABELS
    assert [p.name for p in snapshot.people] == [PERSON]
    assert snapshot.frames >= 1

    changed = changed_pixels(bgr, out.to_ndarray(format="bgr24"))
    top, right, bottom, left = face.box
    assert changed[top : bottom + 1, left : right + 1].any(), "no overlay at the face"
    rows, columns = np.nonzero(changed)
    # The overlay is the box and its label line (which may be wider than the face): nothing is
    # drawn above, below or left of that band.
    margin = 60
    assert rows.min() >= top - margin and rows.max() <= bottom + margin
    assert columns.min() >= left - margin


@pytest.mark.requires_data
def test_two_people_are_each_boxed_and_counted(enrolled, faces_path, faceapi_model):
    enroll(faces_path, "Joe Biden", photos("joe_biden")[:1], tolerance=0.55)
    settings = load_settings(environ={}, faces_path=faces_path)
    session = LiveSession(settings)
    stream = LiveStream(settings, load_registry(faces_path), faceapi_model.name, session)
    session.start_counting()
    bgr = frame_from_photo(GROUPS / "fr__two_people.jpg")

    def both_boxed(out) -> bool:
        faces = session.snapshot().faces
        changed = changed_pixels(bgr, out.to_ndarray(format="bgr24"))
        return len(faces) == 2 and all(changed[t : b + 1, le : r + 1].any() for t, r, b, le in (f.box for f in faces))

    try:
        stream_until(stream, bgr, both_boxed)
    finally:
        stream.close()
    snapshot = session.snapshot()
    assert sorted(face.name for face in snapshot.faces) == ["Barack Obama", "Joe Biden"]
    assert sorted(p.name for p in snapshot.people) == ["Barack Obama", "Joe Biden"]


@pytest.mark.requires_data
def test_frame_without_faces_passes_through_uncounted(live):
    bgr = np.full((480, 640, 3), 128, np.uint8)
    out = stream_until(live, bgr, lambda out: live.session.snapshot().frames >= 3)
    assert np.array_equal(out.to_ndarray(format="bgr24"), bgr)
    snapshot = live.session.snapshot()
    assert snapshot.faces == () and snapshot.people == ()


@pytest.mark.requires_data
def test_a_stranger_is_labelled_as_a_visitor(live):
    bgr = frame_from_photo(photos("kit_harington")[0])
    stream_until(live, bgr, lambda out: live.session.snapshot().faces)
    assert [face.name for face in live.session.snapshot().faces] == ["Visitor 1"]


@pytest.mark.requires_data
def test_a_frame_the_analyzer_refuses_does_not_end_the_stream(live):
    tiny = np.zeros((16, 16, 3), np.uint8)  # below the smallest frame the analyzer accepts
    frame = video_frame(tiny)
    callback = make_frame_callback(live)
    for _ in range(60):
        assert callback(frame) is frame
        time.sleep(1 / 30)
    assert live.session.snapshot().people == ()
    assert live.problem is None  # refused frames are not crashes


LOOPBACK_PROBE = textwrap.dedent("""
    import subprocess, sys
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    import aioice.ice
    before = aioice.ice.get_host_addresses(True, False)
    sys.path.insert(0, sys.argv[1])
    from ui.compat import offer_loopback_candidates
    offer_loopback_candidates()
    offer_loopback_candidates()
    print(before, aioice.ice.get_host_addresses(True, False))
""")


def test_loopback_only_host_offers_127_0_0_1():
    """In a network namespace with only `lo`, aioice alone offers no address; patched, 127.0.0.1."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare and ip")
    probe = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", LOOPBACK_PROBE, str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0 and "unshare" in probe.stderr:
        pytest.skip(f"cannot create a network namespace here: {probe.stderr.strip()}")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[-2] == "[] ['127.0.0.1']"


GC_PROBE = textwrap.dedent("""
    import gc, sys, time
    sys.path.insert(0, sys.argv[1])
    import pandas, altair  # the Live page's figures: what makes a full collection slow
    from streamlit import config
    from ui.compat import keep_collections_off_the_video
    before = config.get_option("runner.postScriptGC")
    keep_collections_off_the_video()
    frozen = gc.get_freeze_count()
    keep_collections_off_the_video()
    start = time.perf_counter()
    gc.collect(2)
    print(before, config.get_option("runner.postScriptGC"), frozen > 10000, gc.get_freeze_count() <= frozen)
    print(f"full collection after freeze: {(time.perf_counter() - start) * 1000:.1f} ms", file=sys.stderr)
""")


def test_full_collections_stay_off_the_video_threads(tmp_path):
    """Streamlit's collection after every run is switched off and what the imports created is
    frozen once (a fresh interpreter, as the freeze is process-wide, run outside the project so
    that its `.streamlit/config.toml` leaves Streamlit's default on)."""
    probe = subprocess.run(
        [sys.executable, "-c", GC_PROBE, str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split("\n")[-2] == "True False True True"
