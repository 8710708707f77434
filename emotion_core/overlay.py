"""Drawing analysed faces onto video frames: a box per face in a colour that stays with the name,
and a "name · Emotion 87%" label above it."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .analyzer import AnalyzedFace
from .labels import UNKNOWN
from .stamp import copy_stamp

_PALETTE = (
    (230, 126, 34),
    (46, 204, 113),
    (52, 152, 219),
    (155, 89, 182),
    (241, 196, 15),
    (26, 188, 156),
    (231, 76, 60),
    (52, 73, 94),
    (211, 84, 0),
    (39, 174, 96),
)
UNKNOWN_COLOUR = (128, 128, 128)
LABEL_LINES_PER_FRAME = 30
"""The label's text height is the frame height over this (16 px on a 480-line frame)."""


def name_colour(name: str) -> tuple[int, int, int]:
    """A colour (BGR) that stays the same for a name across frames and runs; grey for Unknown."""
    if name == UNKNOWN:
        return UNKNOWN_COLOUR
    return _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


def face_label(face: AnalyzedFace) -> str:
    """The text drawn above a face: its name, and its emotion when there is one."""
    if face.emotion is None or face.probability is None:
        return face.name
    return f"{face.name} · {face.emotion} {face.probability:.0%}"


@functools.lru_cache(maxsize=256)
def _label_pixels(text: str, colour: tuple[int, int, int], size: int) -> np.ndarray:
    # Rendered once per distinct text: labels change a few times a second while frames come 30
    # times a second, and text rendering is most of the cost of drawing.
    font = ImageFont.load_default(size=size)
    _, y0, x1, y1 = (round(v) for v in ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font))
    label = Image.new("RGB", (x1 + 6, y1 - y0 + 4), colour)  # colours are BGR, drawn as is
    ImageDraw.Draw(label).text((3, 2 - y0), text, font=font, fill=(255, 255, 255))
    return np.asarray(label)


def draw_faces(bgr: np.ndarray, faces: Sequence[AnalyzedFace], stamp: np.ndarray | None = None) -> None:
    """Draw each face's box and label onto the BGR frame `bgr`, in place; and `stamp`, the stamp
    strip of the frame the faces were analysed from (bench/e2e.py), when given."""
    height, width = bgr.shape[:2]
    size = max(10, round(height / LABEL_LINES_PER_FRAME))
    for face in faces:
        top, right, bottom, left = face.box
        colour = name_colour(face.name)
        cv2.rectangle(bgr, (left, top), (right, bottom), colour, 2)
        label = _label_pixels(face_label(face), colour, size)[:height, :width]
        label_height, label_width = label.shape[:2]
        # Above the box, or below it at the top edge; shifted left rather than cut at the right edge.
        y = top - label_height - 2 if top - label_height - 2 >= 0 else min(bottom + 2, height - label_height)
        x = max(0, min(left, width - label_width))
        bgr[y : y + label_height, x : x + label_width] = label
    if stamp is not None:
        copy_stamp(bgr, stamp)
