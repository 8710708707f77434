"""Session-local labels for strangers: "Visitor 1", "Visitor 2", ... kept by track and re-found by face.

A track whose identity is Unknown gets a visitor label on its first frame and keeps it (unless two
re-checks in a row find a face beyond the tolerance from that visitor's: someone else took the place). A new
track is first compared (face encoding distance) with the recent encodings of the visitors not
in view: within the tolerance, the nearest visitor's label comes back; otherwise a new visitor
is counted. Nothing here is ever written to disk.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from .labels import visitor_label

RECENT_ENCODINGS = 10
"""Encodings kept per visitor to re-find them (the most recent)."""

SWAP_STRIKES = 2
"""Encodings in a row beyond the tolerance from a track's visitor that make it a different visitor."""


class VisitorBook:
    """The strangers of one session: their labels, which track holds which, their recent encodings."""

    def __init__(self) -> None:
        self._encodings: dict[str, deque[np.ndarray]] = {}
        self._by_track: dict[int, str] = {}
        self._strikes: dict[int, int] = {}  # track -> encodings in a row far from its visitor

    def label(self, track_id: int, encoding: np.ndarray | None, tolerance: float) -> str:
        """The visitor label of an Unknown track, given this frame's encoding of its face (if any)."""
        label = self._by_track.get(track_id)
        if label is not None and encoding is not None:
            far = self._distance(label, encoding) > tolerance
            self._strikes[track_id] = self._strikes.get(track_id, 0) + 1 if far else 0
            if self._strikes[track_id] >= SWAP_STRIKES:  # someone else took this track's place
                del self._by_track[track_id], self._strikes[track_id]
                label = None
            elif far:
                return label  # one stray encoding (a blurred or turned face) is not kept
        if label is None:
            label = self._nearest(encoding, tolerance) if encoding is not None else None
            if label is None:
                label = visitor_label(len(self._encodings) + 1)
                self._encodings[label] = deque(maxlen=RECENT_ENCODINGS)
            self._by_track[track_id] = label
        if encoding is not None:
            self._encodings[label].append(np.asarray(encoding, dtype=np.float64))
        return label

    def _distance(self, label: str, encoding: np.ndarray) -> float:
        recent = self._encodings[label]
        return float(np.min(np.linalg.norm(np.asarray(recent) - encoding, axis=1))) if recent else 0.0

    def _nearest(self, encoding: np.ndarray, tolerance: float) -> str | None:
        held = set(self._by_track.values())
        best, best_distance = None, tolerance
        for label, recent in self._encodings.items():
            if label in held or not recent:
                continue
            distance = self._distance(label, encoding)
            if distance <= best_distance:
                best, best_distance = label, distance
        return best

    def keep_tracks(self, track_ids: Iterable[int]) -> None:
        """Release the labels of tracks that are not in `track_ids` (ended, or now recognised)."""
        alive = set(track_ids)
        self._by_track = {track: label for track, label in self._by_track.items() if track in alive}
        self._strikes = {track: n for track, n in self._strikes.items() if track in alive}
