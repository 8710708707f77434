"""Frame-number stamps for the end-to-end benchmark (bench/e2e.py).

A stamp is a strip of black and white cells in a bottom corner of a frame: a white and a black
reference cell, 16 bits of frame number and 8 check bits. Cells are about 12 px on a 640x480
frame and are placed and read by their position relative to the frame size, so a stamp survives
video compression and a lower sent resolution.

The camera videos carry the frame's own number in the FRAME corner (bottom left). With the
`bench_stamp` setting on, the app's overlay drawing copies the stamp of the frame its analysis was
made from into the ANALYSED corner (bottom right), so the benchmark reads both from each frame
the browser shows: which camera frame it is, and how old the drawn analysis is.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import cv2
import numpy as np

BITS = 16
CHECK_BITS = 8
MODULO = 1 << BITS
COLUMNS, ROWS = 13, 2
CELLS = COLUMNS * ROWS  # white and black references + BITS + CHECK_BITS
# The strip's geometry as fractions of the frame (12 px cells, 8 px margins on 640x480).
CELL_W, CELL_H = 12 / 640, 12 / 480
MARGIN_X, MARGIN_Y = 8 / 640, 8 / 480
FRAME, ANALYSED = "frame", "analysed"
MIN_CONTRAST = 40.0
"""Least luma difference between the white and black reference cells of a readable stamp."""

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 as fractions of width and height


def _check(number: int) -> int:
    return zlib.crc32(number.to_bytes(2, "big")) & ((1 << CHECK_BITS) - 1)


def _bits(number: int) -> list[int]:
    data = [(number >> (BITS - 1 - i)) & 1 for i in range(BITS)]
    check = [(_check(number) >> (CHECK_BITS - 1 - i)) & 1 for i in range(CHECK_BITS)]
    return [1, 0, *data, *check]


def strip_rect(corner: str) -> Rect:
    """Where the strip of `corner` (FRAME or ANALYSED) lies, as fractions of the frame."""
    width, height = COLUMNS * CELL_W, ROWS * CELL_H
    x0 = MARGIN_X if corner == FRAME else 1.0 - MARGIN_X - width
    y0 = 1.0 - MARGIN_Y - height
    return (x0, y0, x0 + width, y0 + height)


def cell_rects(corner: str) -> list[Rect]:
    """The central half of each cell of `corner`'s strip (where it is read), in cell order."""
    x0, y0, _, _ = strip_rect(corner)
    rects = []
    for index in range(CELLS):
        row, column = divmod(index, COLUMNS)
        left, top = x0 + column * CELL_W, y0 + row * CELL_H
        rects.append((left + CELL_W / 4, top + CELL_H / 4, left + 3 * CELL_W / 4, top + 3 * CELL_H / 4))
    return rects


def _pixels(rect: Rect, shape: tuple[int, ...]) -> tuple[slice, slice]:
    height, width = shape[:2]
    x0, y0, x1, y1 = rect
    left, top = round(x0 * width), round(y0 * height)
    return slice(top, max(top + 1, round(y1 * height))), slice(left, max(left + 1, round(x1 * width)))


def write_stamp(image: np.ndarray, number: int) -> None:
    """Draw `number` (modulo 2**16) into the FRAME corner of a 3-channel uint8 image, in place."""
    x0, y0, _, _ = strip_rect(FRAME)
    for index, bit in enumerate(_bits(number % MODULO)):
        row, column = divmod(index, COLUMNS)
        left, top = x0 + column * CELL_W, y0 + row * CELL_H
        image[_pixels((left, top, left + CELL_W, top + CELL_H), image.shape)] = 255 if bit else 0


def decode(values: Sequence[float]) -> int | None:
    """The number of a stamp from the mean luma of its cells (as `cell_rects` orders them), or None."""
    if len(values) != CELLS or values[0] - values[1] < MIN_CONTRAST:
        return None
    threshold = (values[0] + values[1]) / 2
    bits = [int(value > threshold) for value in values[2:]]
    number = int("".join(map(str, bits[:BITS])), 2)
    return number if int("".join(map(str, bits[BITS:])), 2) == _check(number) else None


def read_stamp(bgr: np.ndarray, corner: str = FRAME) -> int | None:
    """The number stamped in `corner` of a BGR frame, or None when there is no readable stamp."""
    grey = cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2GRAY)
    return decode([float(grey[_pixels(rect, grey.shape)].mean()) for rect in cell_rects(corner)])


def stamp_pixels(bgr: np.ndarray) -> np.ndarray:
    """A copy of the FRAME-corner strip of a frame (what `copy_stamp` pastes later)."""
    return bgr[_pixels(strip_rect(FRAME), bgr.shape)].copy()


def copy_stamp(dst_bgr: np.ndarray, pixels: np.ndarray) -> None:
    """Paste a strip from `stamp_pixels` into the ANALYSED corner of `dst_bgr`, in place."""
    region = _pixels(strip_rect(ANALYSED), dst_bgr.shape)
    height, width = region[0].stop - region[0].start, region[1].stop - region[1].start
    if pixels.shape[:2] != (height, width):
        pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_NEAREST)
    dst_bgr[region] = pixels
