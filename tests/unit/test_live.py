"""LiveSession: fixed-cadence counting, separate sessions, frozen final scores, snapshots."""

import threading

import pytest

from emotion_core.analyzer import AnalyzedFace
from emotion_core.config import Settings
from emotion_core.labels import LABELS, UNKNOWN
from emotion_core.live import LiveSession


def face(track_id, name, emotion="Happy", p=0.9):
    rest = (1.0 - p) / (len(LABELS) - 1)
    scores = {label: (p if label == emotion else rest) for label in LABELS}
    return AnalyzedFace(track_id, (10, 60, 60, 10), name, 0.3, scores)


def feed(session, faces, fps, seconds, start=1000.0, step=1):
    """Observe `faces` at `fps` for `seconds`, processing only every `step`-th frame."""
    frames = int(fps * seconds)
    for i in range(0, frames, step):
        session.observe(faces, start + i / fps)


def counts(snapshot):
    return {p.name: p.total for p in snapshot.people}


@pytest.mark.parametrize("fps, step", [(30, 1), (30, 2), (30, 3), (15, 1), (7, 1)])
def test_one_observation_per_face_per_period_whatever_the_frame_rate(fps, step):
    session = LiveSession(Settings(sample_period=0.5))
    session.start_counting(now=1000.0)
    feed(session, [face(1, "Ann"), face(2, UNKNOWN, "Sad")], fps, 10.0, step=step)
    # 10 s at one observation per 0.5 s: 20 per face, give or take the frame at the edge.
    for total in counts(session.snapshot()).values():
        assert 19 <= total <= 21


def test_counts_and_scores_per_person():
    session = LiveSession(Settings(sample_period=0.5))
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann", "Happy"), face(2, "Bob", "Sad")], 30, 5.0, start=0.0)
    snap = session.snapshot()
    ann, bob = snap.people
    assert (ann.name, ann.counts["Happy"], ann.total, ann.score) == ("Ann", 10, 10, 100.0)
    assert (bob.name, bob.counts["Sad"], bob.score, bob.points) == ("Bob", 10, 25.0, -10.0)
    assert set(ann.counts) == set(LABELS)
    assert snap.overall_score == pytest.approx(62.5) and snap.total == 20
    assert snap.counting and snap.started_at == 0.0
    assert {name for _, name, _ in snap.timeline} == {"Ann", "Bob", "Overall"}


def test_people_are_listed_by_name_then_visitors_by_number():
    session = LiveSession(Settings(sample_period=0.5))
    session.start_counting(now=0.0)
    names = ["Visitor 10", "Zoë", "Visitor 2", "Ann", "Visitor 1"]
    feed(session, [face(i, name) for i, name in enumerate(names)], 30, 2.0, start=0.0)
    session.stop_counting(now=2.0)
    expected = ["Ann", "Zoë", "Visitor 1", "Visitor 2", "Visitor 10"]
    snap = session.snapshot()
    assert [p.name for p in snap.people] == expected
    assert snap.final is not None and [p.name for p in snap.final.people] == expected


def test_unknown_can_be_left_out():
    session = LiveSession(Settings(count_unknown=False))
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann"), face(2, UNKNOWN)], 30, 2.0, start=0.0)
    assert set(counts(session.snapshot())) == {"Ann"}
    session.update_settings(count_unknown=True)
    feed(session, [face(1, "Ann"), face(2, UNKNOWN)], 30, 2.0, start=2.0)
    assert set(counts(session.snapshot())) == {"Ann", UNKNOWN}


def test_faces_without_emotion_are_not_counted():
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    feed(session, [AnalyzedFace(1, (0, 50, 50, 0), "Ann", 0.3, None)], 30, 2.0, start=0.0)
    snap = session.snapshot()
    assert snap.people == () and snap.overall_score is None and len(snap.faces) == 1


def test_nothing_is_counted_while_counting_is_off():
    session = LiveSession(Settings())
    feed(session, [face(1, "Ann")], 30, 2.0)
    snap = session.snapshot()
    assert snap.total == 0 and snap.frames == 60 and not snap.counting
    assert snap.fps == pytest.approx(30.0)


def test_stop_freezes_the_final_scores():
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann", "Happy")], 30, 2.0, start=0.0)
    final = session.stop_counting(now=2.0)
    assert final.people[0].total == 4 and final.overall_score == 100.0
    assert (final.started_at, final.ended_at) == (0.0, 2.0)
    feed(session, [face(1, "Ann", "Angry")], 30, 2.0, start=2.0)
    snap = session.snapshot()
    assert snap.final == final and snap.total == 4 and not snap.counting
    assert session.stop_counting() is None
    session.start_counting(now=10.0)
    assert session.snapshot().final is None and session.snapshot().total == 0


def test_changing_weights_rescores():
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann", "Surprise")], 30, 1.0, start=0.0)
    assert session.snapshot().overall_score == 0.0
    session.update_settings(weights={"Surprise": 2.0})
    assert session.snapshot().overall_score == 100.0


def test_clear_forgets_counts():
    session = LiveSession(Settings())
    session.start_counting(now=0.0)
    feed(session, [face(1, "Ann")], 30, 1.0, start=0.0)
    session.clear()
    snap = session.snapshot()
    assert snap.total == 0 and snap.counting and snap.timeline == ()


def test_two_sessions_fed_from_two_threads_keep_separate_counts():
    first, second = LiveSession(Settings()), LiveSession(Settings())
    first.start_counting(now=0.0)
    second.start_counting(now=0.0)
    readers_saw = []

    def read(session):
        for _ in range(200):
            readers_saw.append(session.snapshot().total)

    threads = [
        threading.Thread(target=feed, args=(first, [face(1, "Ann", "Happy")], 30, 10.0, 0.0)),
        threading.Thread(target=feed, args=(second, [face(1, "Bob", "Sad"), face(2, "Cy", "Angry")], 30, 5.0, 0.0)),
        threading.Thread(target=read, args=(first,)),
        threading.Thread(target=read, args=(second,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counts(first.snapshot()) == {"Ann": 20}
    assert counts(second.snapshot()) == {"Bob": 10, "Cy": 10}
    assert first.snapshot().overall_score == 100.0 and second.snapshot().overall_score == pytest.approx(12.5)


def test_time_going_backwards_restarts_the_cadence():
    session = LiveSession(Settings(sample_period=0.5))
    session.start_counting(now=100.0)
    feed(session, [face(1, "Ann")], 30, 2.0, start=100.0)
    feed(session, [face(1, "Ann")], 30, 2.0, start=10.0)  # e.g. a restarted video clock
    assert counts(session.snapshot()) == {"Ann": 8}
