"""The camera's frame callback with real frames, and the loopback ICE candidate workaround."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from appfixtures import app_env, enrolled, faceapi_model, page  # noqa: F401  (pytest fixtures)
from apphelpers import PERSON, frame_from_photo, video_frame

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import load_settings
from emotion_core.labels import LABELS
from emotion_core.live import LiveSession
from emotion_core.registry import load_registry
from tests.conftest import GROUPS, PROJECT_ROOT, photos
from ui.camera import make_frame_callback


@pytest.fixture
def live(enrolled, faces_path, faceapi_model):
    """A real analyzer and counting session over the enrolled registry, counting."""
    settings = load_settings(environ={}, faces_path=faces_path)
    analyzer = FrameAnalyzer(load_registry(faces_path), faceapi_model, settings)
    session = LiveSession(settings)
    session.start_counting()
    return analyzer, session


def changed_pixels(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=2)


def test_overlay_is_drawn_on_the_face_and_the_person_is_counted(live, enrolled):
    analyzer, session = live
    bgr = frame_from_photo(enrolled)
    out = make_frame_callback(analyzer, session)(video_frame(bgr, pts=3000))

    assert (out.width, out.height) == (640, 480)
    assert out.pts == 3000 and out.time_base == video_frame(bgr).time_base
    snapshot = session.snapshot()
    [face] = snapshot.faces
    assert face.name == PERSON and face.emotion in LABELS
    assert [(p.name, p.total) for p in snapshot.people] == [(PERSON, 1)]
    assert snapshot.frames == 1

    changed = changed_pixels(bgr, out.to_ndarray(format="bgr24"))
    top, right, bottom, left = face.box
    assert changed[top : bottom + 1, left : right + 1].any(), "no overlay at the face"
    rows, columns = np.nonzero(changed)
    # The overlay is the box and its label line (which may be wider than the face): nothing is
    # drawn above, below or left of that band.
    margin = 60
    assert rows.min() >= top - margin and rows.max() <= bottom + margin
    assert columns.min() >= left - margin


def test_two_people_are_each_boxed_and_counted(enrolled, faces_path, faceapi_model):
    from emotion_core.recognition import enroll

    enroll(faces_path, "Joe Biden", photos("joe_biden")[:1], tolerance=0.55)
    settings = load_settings(environ={}, faces_path=faces_path)
    analyzer = FrameAnalyzer(load_registry(faces_path), faceapi_model, settings)
    session = LiveSession(settings)
    session.start_counting()
    bgr = frame_from_photo(GROUPS / "fr__two_people.jpg")
    out = make_frame_callback(analyzer, session)(video_frame(bgr))
    snapshot = session.snapshot()
    assert sorted(face.name for face in snapshot.faces) == ["Barack Obama", "Joe Biden"]
    assert sorted(p.name for p in snapshot.people) == ["Barack Obama", "Joe Biden"]
    changed = changed_pixels(bgr, out.to_ndarray(format="bgr24"))
    for face in snapshot.faces:
        top, right, bottom, left = face.box
        assert changed[top : bottom + 1, left : right + 1].any()


def test_frame_without_faces_passes_through_uncounted(live):
    analyzer, session = live
    bgr = np.full((480, 640, 3), 128, np.uint8)
    out = make_frame_callback(analyzer, session)(video_frame(bgr))
    assert np.array_equal(out.to_ndarray(format="bgr24"), bgr)
    snapshot = session.snapshot()
    assert snapshot.faces == () and snapshot.people == () and snapshot.frames == 1


def test_a_stranger_is_labelled_as_a_visitor(live):
    analyzer, session = live
    bgr = frame_from_photo(photos("kit_harington")[0])
    make_frame_callback(analyzer, session)(video_frame(bgr))
    assert [face.name for face in session.snapshot().faces] == ["Visitor 1"]


def test_a_frame_the_analyzer_refuses_does_not_end_the_stream(live):
    analyzer, session = live
    tiny = np.zeros((16, 16, 3), np.uint8)  # below the smallest frame the analyzer accepts
    frame = video_frame(tiny)
    assert make_frame_callback(analyzer, session)(frame) is frame
    assert session.snapshot().people == ()


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
