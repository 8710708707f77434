"""The overlay: a copy of the frame with a box per face in a stable colour and a label."""

import numpy as np

from emotion_core.analyzer import AnalyzedFace
from emotion_core.labels import LABELS, UNKNOWN
from emotion_core.overlay import UNKNOWN_COLOUR, draw_faces, name_colour


def test_boxes_labels_and_colours():
    frame = np.zeros((240, 320, 3), np.uint8)
    scores = {label: (0.87 if label == "Happy" else 0.13 / 7) for label in LABELS}
    faces = [
        AnalyzedFace(1, (60, 120, 140, 40), "Ann", 0.3, scores),
        AnalyzedFace(2, (10, 320, 90, 250), UNKNOWN, None, None),
    ]  # at the top right corner
    drawn = frame.copy()
    draw_faces(drawn, faces)
    assert not frame.any()
    assert tuple(drawn[100, 40]) == name_colour("Ann")  # left edge of Ann's box
    assert tuple(drawn[50, 250]) == UNKNOWN_COLOUR  # left edge of the Unknown box
    assert drawn[:60, 40:200].any()  # Ann's label above her box
    assert drawn[90:115, 200:320].any()  # the Unknown label below, kept in the frame
    assert name_colour("Ann") == name_colour("Ann") != UNKNOWN_COLOUR
