"""Strangers as visitors on real photos: apart from each other, the same label when they come back,
enrolled from the live session."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import Settings
from emotion_core.emotions import load_emotion_model
from emotion_core.images import load_image
from emotion_core.live import LiveSession
from emotion_core.registry import Registry, add_person, load_registry
from emotion_core.store import EmotionLog
from tests.data import GROUPS, photos

pytestmark = pytest.mark.requires_data

FPS = 10.0


def frame(path, size=(640, 480)) -> np.ndarray:
    """A BGR frame with the photo scaled to fit, centred on grey."""
    rgb = load_image(path)
    width, height = size
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)))
    canvas = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized[:, :, ::-1]
    return canvas


@pytest.fixture(scope="module")
def model():
    return load_emotion_model("faceapi", Settings().models_dir)


def run(analyzer: FrameAnalyzer, session: LiveSession, frames: list[np.ndarray], start: float) -> list[list[str]]:
    """Analyse and observe `frames` at FPS from `start`; the names in each frame."""
    names = []
    for i, bgr in enumerate(frames):
        faces = analyzer.analyze(bgr, start + i / FPS)
        session.observe(faces, start + i / FPS)
        names.append(sorted(face.name for face in faces))
    return names


def test_two_strangers_in_view_are_two_visitors_counted_apart(model):
    analyzer = FrameAnalyzer(Registry(), model, Settings())
    session = LiveSession(Settings(sample_period=0.5))
    session.start_counting(now=0.0)
    names = run(analyzer, session, [frame(GROUPS / "fr__two_people.jpg")] * 20, 0.0)
    assert names[0] == names[-1] == ["Visitor 1", "Visitor 2"]  # labelled from the first frame
    people = {p.name: p.total for p in session.snapshot().people}
    assert people == {"Visitor 1": 4, "Visitor 2": 4}


def test_a_stranger_who_leaves_for_3_s_keeps_their_label(model):
    registry = Registry()
    stranger, other = frame(photos("kit_harington")[0]), frame(photos("rose_leslie")[0])
    empty = np.full_like(stranger, 128)
    analyzer = FrameAnalyzer(registry, model, Settings())
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    names = run(analyzer, session, [stranger] * 10 + [empty] * 30 + [other] * 10 + [stranger] * 20, 0.0)
    assert names[0] == names[9] == ["Visitor 1"]
    assert names[40] == names[49] == ["Visitor 2"]  # someone else meanwhile is a new visitor
    assert names[-1] == ["Visitor 1"]  # back in the same place, told apart from Visitor 2 by face
    assert {p.name for p in session.snapshot().people} == {"Visitor 1", "Visitor 2"}


def test_a_stranger_missed_for_a_frame_stays_the_same_visitor(model):
    stranger = frame(photos("kit_harington")[0])
    analyzer = FrameAnalyzer(Registry(), model, Settings())
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    names = run(analyzer, session, [stranger] * 5 + [np.full_like(stranger, 128)] * 2 + [stranger] * 5, 0.0)
    assert [] in names[5:7]  # out of view for a frame or two, within the track's grace period
    assert all(name == ["Visitor 1"] for name in names if name), names
    assert [p.name for p in session.snapshot().people] == ["Visitor 1"]


def test_enrolling_a_visitor_attributes_their_session_to_the_new_name(model, faces_path):
    add_person(faces_path, "Joe Biden", np.random.default_rng(0).normal(0, 0.1, (1, 128)))
    log = EmotionLog("sqlite://")
    analyzer = FrameAnalyzer(load_registry(faces_path), model, Settings())
    session = LiveSession(Settings(sample_period=0.5), log, model.name)
    session.start_counting(now=0.0)
    stranger = frame(photos("kit_harington")[0])
    run(analyzer, session, [stranger] * 30, 0.0)
    encodings = session.visitor_encodings("Visitor 1")
    assert len(encodings) >= 2
    add_person(faces_path, "Kit Harington", np.array(encodings))
    session.rename_visitor("Visitor 1", "Kit Harington")
    analyzer.set_registry(load_registry(faces_path))
    names = run(analyzer, session, [stranger] * 10, 3.0)
    assert names[-1] == ["Kit Harington"]
    final = session.stop_counting(now=4.0)
    assert [p.name for p in final.people] == ["Kit Harington"]
    log.flush()
    assert {o.person for o in log.observations(final.session_id)} == {"Kit Harington"}
    assert "Visitor 1" not in load_registry(faces_path).names
    log.close()
