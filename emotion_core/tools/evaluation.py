"""Accuracy measurements over labelled folders: face identification and emotion classification."""

from __future__ import annotations

import csv
import statistics
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import cv2
import numpy as np

from ..boxes import Box, iou
from ..errors import EmotionCoreError
from ..images import load_image
from ..labels import LABELS, UNKNOWN, canonical_label

if TYPE_CHECKING:
    from ..config import Settings
    from ..detectors import FaceDetector
    from ..emotions import EmotionModel

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}


def labelled_images(root: Path) -> list[tuple[Path, str]]:
    """(image, folder name) for every image in `root/<label>/`, skipping folders starting with `_`."""
    root = Path(root)
    if not root.is_dir():
        raise EmotionCoreError(f"{root}: not a directory")
    pairs = [
        (image, folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_"))
        for image in sorted(folder.iterdir())
        if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES
    ]
    if not pairs:
        raise EmotionCoreError(f"{root}: no images in any sub-folder")
    return pairs


@dataclass(frozen=True)
class TreeEncodings:
    """Every photo of a face tree encoded on its largest face: `plain` as a live frame is (one
    encoding; None without a face) and `enrolled` as enrollment is (`ENROLL_JITTERS`; inf without a face)."""

    photos: list[Path]
    people: list[str]
    plain: list[np.ndarray | None]
    enrolled: np.ndarray


def encode_tree(root: Path, detector: FaceDetector, progress: TextIO | None = None) -> TreeEncodings:
    """The encodings of every photo of `root/<person>/` on the largest face `detector` finds."""
    from ..boxes import largest_box
    from ..recognition import ENROLL_JITTERS, encode_faces

    photos, people, plain, enrolled = [], [], [], []
    pairs = labelled_images(root)
    for index, (path, person) in enumerate(pairs, 1):
        if progress:
            progress.write(f"\rencoding {index}/{len(pairs)}")
        rgb = load_image(path)
        largest = largest_box([found.box for found in detector.detect(rgb)])
        photos.append(path)
        people.append(person)
        plain.append(encode_faces(rgb, [largest], detector=detector)[0] if largest else None)
        enrolled.append(
            encode_faces(rgb, [largest], ENROLL_JITTERS, detector=detector)[0] if largest else np.full(128, np.inf)
        )
    if progress:
        progress.write("\n")
    return TreeEncodings(photos, people, plain, np.array(enrolled))


def leave_one_out(tree: TreeEncodings, tolerance: float) -> dict:
    """Each photo's plain encoding against the others' enrollment encodings. A person with a single
    photo is a stranger for that photo (right answer: Unknown)."""
    people = tree.people
    right = unknown = wrong = strangers = false_accepts = 0
    for i, encoding in enumerate(tree.plain):
        others = [j for j in range(len(people)) if j != i]
        is_stranger = people[i] not in (people[j] for j in others)
        strangers += is_stranger
        prediction = UNKNOWN
        if encoding is not None:
            distances = np.linalg.norm(tree.enrolled[others] - encoding, axis=1)
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
    n = len(people)
    return {
        "n": n,
        "accuracy": right / n,
        "unknown_rate": unknown / n,
        "wrong_rate": wrong / n,
        "strangers": strangers,
        "false_accept_rate": false_accepts / strangers if strangers else 0.0,
    }


def evaluate_faces(
    root: Path, tolerance: float, progress: TextIO | None = None, detector: FaceDetector | None = None
) -> dict:
    """Leave-one-out identification (`leave_one_out`) over the photos of `root/<person>/`, on the
    largest face `detector` (default: the configured one) finds."""
    from ..detectors import default_detector

    return leave_one_out(encode_tree(root, detector or default_detector(), progress), tolerance)


DETECTION_IOU = 0.4
"""Overlap (intersection over union) a detection needs with an annotated box to count as found."""
GROUPS_DIR = "_groups"
FRAME_SIZE = (640, 480)
"""Frame size (width, height) at which the live path's detection cost is measured."""


def annotated_boxes(xml_path: Path) -> list[tuple[Path, list[Box]]]:
    """(image, boxes) from an imglab XML file (dlib's format); boxes marked `ignore` are left out.

    An image named `F` that does not exist next to the XML is looked for as `<prefix>__F`, where
    `<prefix>__` starts the XML file's own name (`dlib__training.xml` lists `dlib__*.jpg` as `*.jpg`).
    """
    xml_path = Path(xml_path)
    try:
        document = ElementTree.parse(xml_path)
    except (OSError, ElementTree.ParseError) as exc:
        raise EmotionCoreError(f"{xml_path}: not a readable imglab XML file ({exc})") from None
    prefix = xml_path.name.split("__")[0] + "__" if "__" in xml_path.name else ""
    images = []
    for image in document.getroot().iter("image"):
        path = xml_path.parent / image.get("file", "")
        if not path.is_file() and prefix:
            path = path.with_name(prefix + path.name)
        if not path.is_file():
            continue
        boxes = []
        for box in image.iter("box"):
            if box.get("ignore") == "1":
                continue
            top, left = int(box.get("top", 0)), int(box.get("left", 0))
            boxes.append((top, left + int(box.get("width", 0)), top + int(box.get("height", 0)), left))
        images.append((path, boxes))
    return images


def _matched(found: list[Box], truth: list[Box]) -> int:
    """Detections (best first) matched one-to-one to annotated boxes with IoU >= DETECTION_IOU."""
    free, hits = list(truth), 0
    for box in found:
        best = max(free, key=lambda t: iou(box, t), default=None)
        if best is not None and iou(box, best) >= DETECTION_IOU:
            free.remove(best)
            hits += 1
    return hits


def frame_cost_ms(detector: FaceDetector, settings: Settings, rgb: np.ndarray, repeats: int = 20) -> float:
    """Median CPU milliseconds to detect faces in `rgb` resized to a 640x480 frame, as the live path
    does it (downscaled to `settings.detect_width` first)."""
    frame = cv2.resize(rgb, FRAME_SIZE, interpolation=cv2.INTER_AREA)
    scale = min(1.0, settings.detect_width / FRAME_SIZE[0])
    size = (round(FRAME_SIZE[0] * scale), round(FRAME_SIZE[1] * scale))
    detector.detect(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))  # warm-up
    times = []
    for _ in range(repeats):
        start = time.process_time()
        detector.detect(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        times.append(time.process_time() - start)
    return 1000.0 * statistics.median(times)


def evaluate_detection(root: Path, settings: Settings, progress: TextIO | None = None) -> dict:
    """Detection figures of `settings.detector` on a face tree: recall and precision against the
    boxes of `root/_groups/*.xml` (imglab), faces found on the single-face photos of `root/<person>/`,
    and the CPU cost per 640x480 frame in the live path."""
    from ..detectors import load_detector

    still = load_detector(settings.detector, settings.models_dir)
    live = load_detector(settings.detector, settings.models_dir, max_side=None, upsample=settings.detect_upsample)
    annotated = [pair for xml in sorted((Path(root) / GROUPS_DIR).glob("*.xml")) for pair in annotated_boxes(xml)]
    truths = detections = hits = 0
    for path, boxes in annotated:
        found = [face.box for face in still.detect(load_image(path))]
        truths, detections, hits = truths + len(boxes), detections + len(found), hits + _matched(found, boxes)
    counts: dict[str, int] = {}
    photos = labelled_images(root)
    for index, (path, _) in enumerate(photos, 1):
        if progress:
            progress.write(f"\rdetecting {index}/{len(photos)}")
        counts[str(path)] = len(still.detect(load_image(path)))
    if progress:
        progress.write("\n")
    sample = load_image(annotated[0][0]) if annotated else load_image(photos[0][0])
    return {
        "detector": still.name,
        "annotated_images": len(annotated),
        "annotated_faces": truths,
        "recall": hits / truths if truths else None,
        "precision": hits / detections if detections else None,
        "iou_threshold": DETECTION_IOU,
        "single_face_photos": len(counts),
        "exactly_one_face": sum(n == 1 for n in counts.values()),
        "false_faces": sum(max(n - 1, 0) for n in counts.values()),
        "missed_photos": sum(n == 0 for n in counts.values()),
        "not_one_face": {path: n for path, n in counts.items() if n != 1},
        "detect_width": settings.detect_width,
        "cpu_ms_per_frame": round(frame_cost_ms(live, settings, sample), 2),
    }


NO_FACE = "no face"
"""Prediction recorded in the emotion confusion matrix for an image where no face was found."""


def _emotion_label(name: str, origin: str) -> str:
    label = canonical_label(name)
    if label is None:
        raise EmotionCoreError(
            f"{origin}: {name!r} is not an emotion label (expected one of {', '.join(LABELS)} or a synonym)"
        )
    return label


def emotion_images(source: Path) -> list[tuple[Path, str]]:
    """(image, canonical label) pairs from a folder-per-class tree, a folder of files whose
    suffix is the label (`subject01.happy`), or a CSV file of `path,label` rows."""
    source = Path(source)
    if source.is_file():
        return _emotion_csv(source)
    if not source.is_dir():
        raise EmotionCoreError(f"{source}: no such directory or CSV file")
    if any(p.is_dir() and not p.name.startswith("_") for p in source.iterdir()):
        return [(path, _emotion_label(folder, str(path.parent))) for path, folder in labelled_images(source)]
    pairs = [
        (path, _emotion_label(path.suffix[1:], str(path)))
        for path in sorted(source.iterdir())
        if path.is_file()
        and not path.name.startswith(".")
        and path.suffix.lower() not in IMAGE_SUFFIXES
        and canonical_label(path.suffix[1:]) is not None
    ]
    if not pairs:
        raise EmotionCoreError(f"{source}: no class sub-folders and no files named <name>.<emotion>")
    return pairs


def _emotion_csv(path: Path) -> list[tuple[Path, str]]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EmotionCoreError(f"{path}: cannot read CSV ({exc})") from None
    rows = [row for row in rows if row and any(cell.strip() for cell in row)]
    if rows and rows[0][-1].strip().lower() == "label":
        rows = rows[1:]
    pairs = []
    for number, row in enumerate(rows, 1):
        if len(row) != 2:
            raise EmotionCoreError(f"{path}: row {number} is not `path,label`: {','.join(row)!r}")
        image = Path(row[0].strip())
        pairs.append(
            (image if image.is_absolute() else path.parent / image, _emotion_label(row[1], f"{path} row {number}"))
        )
    if not pairs:
        raise EmotionCoreError(f"{path}: no rows")
    return pairs


def emotion_probabilities(
    pairs: list[tuple[Path, str]], model: EmotionModel, crop: bool = False, progress: TextIO | None = None
) -> list[np.ndarray | None]:
    """The probabilities over LABELS of each image's largest face (or of the whole image when
    `crop`); None where no face was found."""
    from ..emotions import classify_image

    rows: list[np.ndarray | None] = []
    for index, (path, _) in enumerate(pairs, 1):
        if progress and (index % 50 == 0 or index == len(pairs)):
            progress.write(f"\rclassifying {index}/{len(pairs)}")
        faces = classify_image(model, path, crop=crop, largest_only=True)
        rows.append(np.array([faces[0].scores[label] for label in LABELS]) if faces else None)
    if progress:
        progress.write("\n")
    return rows


def _prediction(row: np.ndarray | None) -> str:
    return NO_FACE if row is None else LABELS[int(np.argmax(row))]


def evaluate_emotions(source: Path, model: EmotionModel, crop: bool = False, progress: TextIO | None = None) -> dict:
    """Accuracy, per-class recall and confusion of `model` over labelled images.

    Without `crop` the largest face dlib finds is classified; an image without a face counts as
    wrong and is listed under `no_face`.
    """
    pairs = emotion_images(source)
    rows = emotion_probabilities(pairs, model, crop, progress)
    report = _accuracy([truth for _, truth in pairs], [_prediction(row) for row in rows])
    report["no_face"] = [str(path) for (path, _), row in zip(pairs, rows) if row is None]
    report["model"] = model.name
    return report


def subject_of(path: Path) -> str:
    """The subject id of a file named `<subject>.<kind>` (`subject01.happy` → `subject01`)."""
    return path.name.split(".", 1)[0]


def evaluate_calibrated_emotions(
    source: Path, model: EmotionModel, crop: bool = False, progress: TextIO | None = None
) -> dict:
    """`evaluate_emotions` over the non-Neutral images of subjects that have a Neutral image, with
    and without calibration on that subject's Neutral image(s) (`calibrated_accuracy`,
    `calibrated_per_class`, `calibrated_confusion`)."""
    from ..calibration import correct, make_baseline

    pairs = emotion_images(source)
    rows = emotion_probabilities(pairs, model, crop, progress)
    resting: dict[str, list[np.ndarray]] = {}
    for (path, truth), row in zip(pairs, rows):
        if truth == "Neutral" and row is not None:
            resting.setdefault(subject_of(path), []).append(row)
    baselines = {subject: make_baseline(found, model.name).vector() for subject, found in resting.items()}
    tested = [
        (path, truth, row)
        for (path, truth), row in zip(pairs, rows)
        if truth != "Neutral" and subject_of(path) in baselines
    ]
    if not tested:
        raise EmotionCoreError(f"{source}: no subject has both a Neutral image with a face and another image")
    truths = [truth for _, truth, _ in tested]
    report = _accuracy(truths, [_prediction(row) for _, _, row in tested])
    calibrated = _accuracy(
        truths,
        [_prediction(None if row is None else correct(row, baselines[subject_of(path)])) for path, _, row in tested],
    )
    report.update({f"calibrated_{key}": value for key, value in calibrated.items() if key != "n"})
    report["subjects"] = len({subject_of(path) for path, _, _ in tested})
    report["no_face"] = [str(path) for path, _, row in tested if row is None]
    report["model"] = model.name
    return report


def _accuracy(truths: list[str], predictions: list[str]) -> dict:
    """n, accuracy, per-class recall and confusion matrix of predictions against truths."""
    present = [label for label in LABELS if label in truths]
    no_face = NO_FACE in predictions
    columns = list(LABELS) + ([NO_FACE] if no_face else [])
    confusion = {truth: {pred: 0 for pred in columns} for truth in present}
    for truth, prediction in zip(truths, predictions):
        confusion[truth][prediction] += 1
    n = len(truths)
    return {
        "n": n,
        "accuracy": sum(t == p for t, p in zip(truths, predictions)) / n,
        "per_class": {label: confusion[label][label] / sum(confusion[label].values()) for label in present},
        "confusion": confusion,
    }
