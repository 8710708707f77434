"""Face boxes: the `Box` type and plain geometry on it (no image or model dependencies)."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[int, int, int, int]
"""A face box as (top, right, bottom, left) pixel coordinates, face_recognition's order."""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    inter = max(0, bottom - top) * max(0, right - left)
    union = (a[2] - a[0]) * (a[1] - a[3]) + (b[2] - b[0]) * (b[1] - b[3]) - inter
    return inter / union if union > 0 else 0.0


def scale_box(box: Box, factor: float, shape: tuple[int, int]) -> Box:
    """Scale a box by `factor` and clip it to an image of `shape` (height, width)."""
    top, right, bottom, left = (round(v * factor) for v in box)
    height, width = shape
    return max(top, 0), min(right, width), min(bottom, height), max(left, 0)


def largest_box(boxes: Sequence[Box]) -> Box | None:
    """The box with the largest area, None when there is none."""
    return max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]), default=None)
