"""Face tracks across frames: IoU association, identity by majority vote, emotion smoothing.

A track's identity comes from its first `votes` recognitions (majority vote) and is re-checked
every `recheck_s` seconds (an Unknown track sooner, backing off); a re-check that disagrees
starts a new vote, so a different person stepping into the same place is noticed. A track whose
box changes width abruptly (a shot cut onto another face) is identified afresh at once. A track unseen
for longer than `grace_s` ends.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .boxes import Box, iou
from .labels import UNKNOWN

MIN_IOU = 0.3
"""Least overlap (intersection over union) for a detection to continue a track."""

SIZE_JUMP = 1.25
"""Width ratio between a track's box and the detection continuing it beyond which the face is
identified afresh. On the hamilton clip 99 % of continuations change width by less; the shot cut
that moved Lin-Manuel Miranda's track onto Barack Obama's smaller face in the audience changed it
by 1.40 (docs/performance.md)."""


@dataclass(eq=False)
class Track:
    """One face followed across frames."""

    id: int
    box: Box
    last_seen: float
    missed: int = 0  # analysed frames in a row this track was not found in
    votes: deque = field(default_factory=deque)  # (nearest enrolled name or None, distance or None)
    established: bool = False  # `votes` reached its full length since the last reset
    confirmed: bool = False  # an identity was established since the registry changed
    checked_at: float | None = None  # time of the last recognition
    confirmations: int = 0  # re-checks in a row that agreed with `name`
    name: str = UNKNOWN
    distance: float | None = None
    emotions: deque = field(default_factory=deque)  # (timestamp, probabilities)

    def identity_due(self, now: float, recheck_s: float, unknown_recheck_s: float) -> bool:
        """Whether this track needs a recognition now (still voting, or a re-check is due)."""
        if not self.established or self.checked_at is None:
            return True
        interval = recheck_s
        if self.name == UNKNOWN:
            # A face turning towards the camera is often Unknown at first: check again soon, then
            # back off so a stranger who stays costs no more than anyone else.
            interval = min(recheck_s, unknown_recheck_s * 2**self.confirmations)
        return now - self.checked_at >= interval

    def add_vote(self, nearest: str | None, distance: float | None, now: float, tolerance: float) -> None:
        """Record one recognition: the nearest enrolled name and its distance."""
        if self.established:
            agrees = _label(nearest, distance, tolerance) == self.name
            self.confirmations = self.confirmations + 1 if agrees else 0
            if not agrees:
                self.votes.clear()
                self.established = False
        self.votes.append((nearest, distance))
        self.checked_at = now
        if len(self.votes) == self.votes.maxlen:
            self.established = self.confirmed = True
        # While a challenge vote runs the old name stays; a new track shows its votes so far.
        if self.established or not self.confirmed:
            self.decide(tolerance)

    def decide(self, tolerance: float) -> None:
        """Set `name` and `distance` from the majority of the votes under `tolerance`."""
        if not self.votes:
            self.name, self.distance = UNKNOWN, None
            return
        labels = [_label(nearest, distance, tolerance) for nearest, distance in self.votes]
        tally = Counter(labels)
        best = max(tally.values())
        # Ties go to the most recent vote among the leaders.
        name = next(label for label in reversed(labels) if tally[label] == best)
        distances = [d for (n, d), label in zip(self.votes, labels) if label == name and d is not None]
        self.name, self.distance = name, (min(distances) if distances else None)

    def reset_identity(self) -> None:
        """Forget every vote (the registry changed): the track is identified again."""
        self.votes.clear()
        self.established = self.confirmed = False
        self.checked_at = None
        self.confirmations = 0

    def forget_face(self) -> None:
        """The box may now hold another face (a jump in size): forget its identity and emotions."""
        self.reset_identity()
        self.name, self.distance = UNKNOWN, None
        self.emotions.clear()

    def add_emotions(self, timestamp: float, probabilities: np.ndarray, window_s: float) -> np.ndarray:
        """Add one frame's probabilities and return their mean over the last `window_s` seconds."""
        self.emotions.append((timestamp, probabilities))
        while self.emotions and self.emotions[0][0] < timestamp - window_s:
            self.emotions.popleft()
        return self.smoothed_emotions()

    def emotion_due(self, timestamp: float, period_s: float) -> bool:
        """Whether the emotion model should look at this face again (never did, or `period_s` ago)."""
        return not self.emotions or not 0 <= timestamp - self.emotions[-1][0] < period_s

    def smoothed_emotions(self) -> np.ndarray:
        """The mean of the probabilities in the smoothing window."""
        return np.mean([p for _, p in self.emotions], axis=0)


def _centre_distance(a: Box, b: Box) -> float:
    return float(np.hypot((a[1] + a[3] - b[1] - b[3]) / 2, (a[0] + a[2] - b[0] - b[2]) / 2))


def _size_jump(a: Box, b: Box) -> bool:
    wide, narrow = sorted((a[1] - a[3], b[1] - b[3]), reverse=True)
    return wide > SIZE_JUMP * max(narrow, 1)


def _label(nearest: str | None, distance: float | None, tolerance: float) -> str:
    return nearest if nearest is not None and distance is not None and distance <= tolerance else UNKNOWN


class Tracker:
    """Associates each frame's face boxes with the tracks of earlier frames."""

    def __init__(self, grace_s: float, votes: int) -> None:
        self.grace_s = grace_s
        self.votes = votes
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: Sequence[Box], timestamp: float) -> list[Track]:
        """The track of each box (in the order of `boxes`); unmatched boxes start new tracks.

        A track ends once it has been missing from an analysed frame and unseen for longer than
        `grace_s`: a face found in every analysed frame keeps its track however far apart those
        frames are (slow analysis must not split a person into new tracks).
        """
        self.tracks = [t for t in self.tracks if t.missed == 0 or timestamp - t.last_seen <= self.grace_s]
        pairs = sorted(
            ((iou(track.box, box), t, b) for t, track in enumerate(self.tracks) for b, box in enumerate(boxes)),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, t, b in pairs:
            if overlap < MIN_IOU:
                break
            if t in used or b in assigned:
                continue
            used.add(t)
            assigned[b] = self.tracks[t]
        self._assign_by_distance(boxes, assigned, used)
        result = []
        for b, box in enumerate(boxes):
            track = assigned.get(b)
            if track is None:
                track = Track(self._next_id, box, timestamp, votes=deque(maxlen=self.votes))
                self._next_id += 1
                self.tracks.append(track)
            elif _size_jump(track.box, box):
                track.forget_face()
            track.box, track.last_seen, track.missed = box, timestamp, 0
            result.append(track)
        for t, track in enumerate(self.tracks):
            if t not in used and track.last_seen != timestamp:
                track.missed += 1
        return result

    def _assign_by_distance(self, boxes: Sequence[Box], assigned: dict[int, Track], used: set[int]) -> None:
        """Match what overlap left unmatched by centre distance (under one face width), nearest first.

        Only tracks found in the previous analysed frame take part: between frames analysed far
        apart a face may have moved past any overlap with its old box.
        """
        pairs = []
        for t, track in enumerate(self.tracks):
            if t in used or track.missed:
                continue
            for b, box in enumerate(boxes):
                if b not in assigned:
                    distance = _centre_distance(track.box, box)
                    if distance < min(box[1] - box[3], track.box[1] - track.box[3]):
                        pairs.append((distance, t, b))
        for _, t, b in sorted(pairs):
            if t not in used and b not in assigned:
                used.add(t)
                assigned[b] = self.tracks[t]

    def reset_identities(self) -> None:
        """Make every track identify again."""
        for track in self.tracks:
            track.reset_identity()
