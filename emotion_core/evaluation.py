"""Accuracy measurements over labelled folders (faces; emotions are added by the emotion module)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import numpy as np

from .errors import EmotionCoreError
from .images import load_image
from .labels import UNKNOWN

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def labelled_images(root: Path) -> list[tuple[Path, str]]:
    """(image, folder name) for every image in `root/<label>/`, skipping folders starting with `_`."""
    root = Path(root)
    if not root.is_dir():
        raise EmotionCoreError(f"{root}: not a directory")
    pairs = [(image, folder.name)
             for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
             for image in sorted(folder.iterdir())
             if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES]
    if not pairs:
        raise EmotionCoreError(f"{root}: no images in any sub-folder")
    return pairs


def evaluate_faces(root: Path, tolerance: float, progress: TextIO | None = None) -> dict:
    """Leave-one-out identification: each photo against all others of the tree.

    A person with a single photo is a stranger for that photo (right answer: Unknown).
    """
    from .recognition import detect_faces, encode_faces
    photos, encodings, people = [], [], []
    pairs = labelled_images(root)
    for index, (path, person) in enumerate(pairs, 1):
        if progress:
            progress.write(f"\rencoding {index}/{len(pairs)}")
        rgb = load_image(path)
        boxes = detect_faces(rgb)
        largest = max(boxes, key=lambda b: (b[1] - b[3]) * (b[2] - b[0]), default=None)
        photos.append(path)
        people.append(person)
        encodings.append(encode_faces(rgb, [largest])[0] if largest else None)
    if progress:
        progress.write("\n")
    known = np.array([e if e is not None else np.full(128, np.inf) for e in encodings])
    right = unknown = wrong = strangers = false_accepts = 0
    for i, encoding in enumerate(encodings):
        others = [j for j in range(len(photos)) if j != i]
        is_stranger = people[i] not in (people[j] for j in others)
        strangers += is_stranger
        prediction = UNKNOWN
        if encoding is not None:
            distances = np.linalg.norm(known[others] - encoding, axis=1)
            best = int(np.argmin(distances))
            if distances[best] <= tolerance:
                prediction = people[others[best]]
        truth = UNKNOWN if is_stranger else people[i]
        if prediction == truth:
            right += 1
        elif prediction == UNKNOWN:
            unknown += 1
        else:
            wrong += 1
            false_accepts += is_stranger
    n = len(photos)
    return {"n": n, "accuracy": right / n, "unknown_rate": unknown / n, "wrong_rate": wrong / n,
            "strangers": strangers, "false_accept_rate": false_accepts / strangers if strangers else 0.0}
