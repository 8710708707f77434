"""IoU tracking, the identity vote and re-check, emotion smoothing, the grace period."""

import numpy as np
import pytest

from emotion_core.boxes import iou
from emotion_core.labels import UNKNOWN
from emotion_core.tracking import Tracker


def shifted(box, dx=0, dy=0):
    top, right, bottom, left = box
    return top + dy, right + dx, bottom + dy, left + dx


FACE_A = (100, 200, 200, 100)
FACE_B = (100, 500, 200, 400)


def test_iou():
    assert iou(FACE_A, FACE_A) == 1.0
    assert iou(FACE_A, FACE_B) == 0.0
    assert iou(FACE_A, shifted(FACE_A, dx=50)) == pytest.approx(50 * 100 / (2 * 100 * 100 - 50 * 100))


def test_moving_faces_keep_their_tracks():
    tracker = Tracker(grace_s=1.0, votes=3)
    first = tracker.update([FACE_A, FACE_B], 0.0)
    ids = [t.id for t in first]
    assert len(set(ids)) == 2
    for step in range(1, 20):
        # Listed in the other order: association is by overlap, not by position in the list.
        tracks = tracker.update([shifted(FACE_B, dx=-5 * step), shifted(FACE_A, dx=5 * step)], step / 30)
        assert [t.id for t in tracks] == ids[::-1]


def test_a_face_elsewhere_starts_a_new_track():
    tracker = Tracker(grace_s=1.0, votes=3)
    (a,) = tracker.update([FACE_A], 0.0)
    (b,) = tracker.update([FACE_B], 0.1)
    assert a.id != b.id


def test_track_survives_a_gap_shorter_than_the_grace_period_only():
    tracker = Tracker(grace_s=1.0, votes=3)
    (a,) = tracker.update([FACE_A], 0.0)
    assert tracker.update([], 0.5) == []
    (again,) = tracker.update([FACE_A], 0.9)
    assert again.id == a.id
    assert tracker.update([], 1.2) == []
    (later,) = tracker.update([FACE_A], 2.5)
    assert later.id != a.id


def test_a_face_in_every_analysed_frame_keeps_its_track_however_slow_the_analysis():
    tracker = Tracker(grace_s=1.0, votes=3)
    (first,) = tracker.update([FACE_A], 0.0)
    ids = {tracker.update([FACE_A], t)[0].id for t in (3.0, 7.5, 20.0)}
    assert ids == {first.id}


def test_a_face_that_moved_past_any_overlap_between_slow_frames_keeps_its_track():
    tracker = Tracker(grace_s=1.0, votes=3)
    top, right, bottom, left = FACE_A
    width = right - left
    moved = (top, right + width // 2, bottom, left + width // 2)  # half a face to the right
    shifted = (top, right + width // 2 + width // 2, bottom, left + width)  # no overlap with FACE_A
    (first,) = tracker.update([FACE_A], 0.0)
    assert tracker.update([moved], 2.0)[0].id == first.id
    assert tracker.update([shifted], 4.0)[0].id == first.id


def test_identity_is_the_majority_of_the_first_votes():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    assert track.identity_due(0.0, 2.0, 0.5)
    track.add_vote("Ann", 0.3, 0.0, tolerance=0.5)
    track.add_vote("Bob", 0.45, 0.03, tolerance=0.5)
    track.add_vote("Ann", 0.35, 0.06, tolerance=0.5)
    assert (track.name, track.distance) == ("Ann", 0.3)
    assert not track.identity_due(1.0, 2.0, 0.5)
    assert track.identity_due(2.1, 2.0, 0.5)


def test_votes_beyond_tolerance_are_unknown_and_rechecked_sooner():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote("Ann", 0.6, t, tolerance=0.5)
    assert track.name == UNKNOWN
    assert track.identity_due(0.6, 2.0, 0.5)
    # A looser tolerance applies to the votes already cast.
    track.decide(0.65)
    assert track.name == "Ann"


def test_a_different_person_in_the_same_place_is_noticed_after_a_new_vote():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote("Ann", 0.3, t, tolerance=0.5)
    track.add_vote("Bob", 0.3, 2.1, tolerance=0.5)  # the re-check disagrees: a new vote starts
    assert track.name == "Ann" and track.identity_due(2.13, 2.0, 0.5)
    track.add_vote("Bob", 0.3, 2.13, tolerance=0.5)
    assert track.name == "Ann"
    track.add_vote("Bob", 0.3, 2.16, tolerance=0.5)
    assert track.name == "Bob"


def test_one_stray_recheck_does_not_rename():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote("Ann", 0.3, t, tolerance=0.5)
    for t, name in ((2.1, "Bob"), (2.13, "Ann"), (2.16, "Ann")):
        track.add_vote(name, 0.3, t, tolerance=0.5)
    assert track.name == "Ann"


def test_reset_identity_votes_again():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote("Ann", 0.3, t, tolerance=0.5)
    tracker.reset_identities()
    assert track.identity_due(0.1, 2.0, 0.5)
    track.add_vote(None, None, 0.1, tolerance=0.5)
    assert track.name == UNKNOWN


def test_emotions_are_averaged_over_the_time_window():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    happy, sad = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    track.add_emotions(0.0, happy, window_s=1.0)
    assert track.add_emotions(0.5, sad, window_s=1.0) == pytest.approx([0.5, 0.5])
    # At 1.6 s the first sample is older than the window.
    assert track.add_emotions(1.6, sad, window_s=1.0) == pytest.approx([0.0, 1.0])


def test_unknown_rechecks_back_off_while_the_face_stays_unknown():
    tracker = Tracker(grace_s=1.0, votes=3)
    (track,) = tracker.update([FACE_A], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote(None, None, t, tolerance=0.5)
    checks = []
    for step in range(7, 1200):  # every 1/100 s, as exact as binary fractions allow
        now = step / 100
        if track.identity_due(now + 1e-9, 2.0, 0.25):
            checks.append(now)
            track.add_vote(None, None, now, tolerance=0.5)
    gaps = [round(b - a, 2) for a, b in zip([0.06, *checks], checks)]
    assert gaps[:5] == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert track.name == UNKNOWN


def test_a_jump_in_box_size_identifies_the_face_afresh():
    """The hamilton clip's shot cut: Miranda's 84 px box continued onto a 60 px face in the audience."""
    tracker = Tracker(grace_s=1.0, votes=3)
    stage = (32, 362, 152, 278)
    (track,) = tracker.update([stage], 0.0)
    for t in (0.0, 0.03, 0.06):
        track.add_vote("Ann", 0.4, t, tolerance=0.5)
    track.add_emotions(0.06, np.ones(8) / 8, 1.0)
    (same,) = tracker.update([(34, 366, 150, 282)], 0.1)  # a few pixels of jitter
    assert same is track and track.name == "Ann" and track.established
    (cut,) = tracker.update([(34, 378, 134, 318)], 0.2)
    assert cut is track  # still one track (boxes overlap), but nobody is named on it any more
    assert track.name == UNKNOWN and track.distance is None and not track.established and not track.emotions
    assert track.identity_due(0.2, recheck_s=2.0, unknown_recheck_s=0.25)
