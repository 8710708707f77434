"""Identity figures of the face detectors: how each detector's boxes serve dlib's face encoder.

Prints, for HOG, RetinaFace with its own boxes and RetinaFace with boxes mapped to HOG's geometry:
- the fit of the RetinaFace -> HOG box map on the single-face photos of ../shared/data/faces;
- leave-one-out identification (as `eval faces`), the farthest same-person and closest
  stranger distances (a photo's plain encoding to another photo's enrollment encoding), and
  one-photo enrollment (each photo of a person with two or more enrolled alone, their other
  photos probed, everyone else enrolled from their first photo);
- with `--sizes`: the same photos scaled down so the face is N px wide, encoded, and matched
  against the others' full-size enrollment encodings (named right, Unknown, wrong name);
- with `--hamilton`: `analyze` on the hamilton clip with Lin-Manuel Miranda (and three
  distractors) enrolled: observations named Miranda, visitors, wrong names, and the widths of the
  faces found.

Usage: .venv/bin/python bench/detector_identity.py [--sizes] [--hamilton] [--faces DIR]
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from emotion_core import detectors
from emotion_core.boxes import Box, iou, largest_box
from emotion_core.config import Settings
from emotion_core.detectors import (
    DETECT_MAX_SIDE,
    RETINAFACE_MIN_SCORE,
    BoxMap,
    FaceDetector,
    RetinaFaceDetector,
    load_detector,
)
from emotion_core.images import load_image
from emotion_core.labels import UNKNOWN, is_visitor
from emotion_core.recognition import ENROLL_JITTERS, encode_faces
from emotion_core.registry import Registry
from emotion_core.tools.evaluation import TreeEncodings, encode_tree, labelled_images, leave_one_out
from emotion_core.weights import model_path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
HAMILTON = SHARED / "videos" / "fr__short_hamilton_clip.mp4"
STAGE_SHOT_END_S = 7.2  # the clip cuts to the audience after this
MIRANDA = ("Lin-Manuel Miranda", "lin_manuel_miranda")
DISTRACTORS = (("Kit Harington", "kit_harington"), ("Joe Biden", "joe_biden"), ("Barack Obama", "barack_obama"))
SIZES = (24, 32, 40, 48, 56, 64, 80)


def width(box: Box) -> int:
    return box[1] - box[3]


def fit_box_map(faces: Path, hog: FaceDetector, retina: FaceDetector) -> BoxMap:
    """The median RetinaFace -> HOG box map over the photos where each finds exactly one face,
    the two overlap and HOG's box is not clipped by the image border."""
    rows = []
    for path, _ in labelled_images(faces):
        rgb = load_image(path)
        found_h, found_r = hog.detect(rgb), retina.detect(rgb)
        if len(found_h) != 1 or len(found_r) != 1:
            continue
        h, r = found_h[0].box, found_r[0].box
        height, width_ = rgb.shape[:2]
        if iou(h, r) < 0.3 or h[0] <= 0 or h[3] <= 0 or h[2] >= height or h[1] >= width_:
            continue
        rw, rh = r[1] - r[3], r[2] - r[0]
        rows.append(
            (
                ((h[1] + h[3]) - (r[1] + r[3])) / 2 / rw,
                ((h[0] + h[2]) - (r[0] + r[2])) / 2 / rh,
                (h[1] - h[3]) / rw,
                (h[2] - h[0]) / rh,
                h,
                r,
            )
        )
    fitted = BoxMap(*(float(np.median([row[k] for row in rows])) for k in range(4)))
    print(f"box map fitted on {len(rows)} photos (both detectors one face, HOG box inside the image):")
    for k, label in enumerate(("dx (widths)", "dy (heights)", "sx", "sy")):
        values = [row[k] for row in rows]
        q1, q3 = np.percentile(values, [25, 75])
        print(f"  {label:13s} median {np.median(values):+.3f}  IQR {q1:+.3f} .. {q3:+.3f}")
    before = [iou(row[4], row[5]) for row in rows]
    after = [iou(row[4], fitted.apply(row[5])) for row in rows]
    print(
        f"  IoU with HOG's box: RetinaFace's median {np.median(before):.3f} (min {min(before):.3f}), "
        f"mapped median {np.median(after):.3f} (min {min(after):.3f})"
    )
    return fitted


def pair_distances(tree: TreeEncodings) -> tuple[float, float]:
    """(farthest same-person, closest stranger) distance from a photo's plain encoding to another
    photo's enrollment encoding."""
    same, strangers = 0.0, np.inf
    for i, encoding in enumerate(tree.plain):
        if encoding is None:
            continue
        for j, person in enumerate(tree.people):
            if j == i or not np.isfinite(tree.enrolled[j]).all():
                continue
            distance = float(np.linalg.norm(tree.enrolled[j] - encoding))
            if person == tree.people[i]:
                same = max(same, distance)
            else:
                strangers = min(strangers, distance)
    return same, strangers


def one_photo_enrollment(tree: TreeEncodings, tolerance: float) -> Counter:
    """Named right / Unknown / wrong name over the probes of one-photo enrollment."""
    first = {person: tree.people.index(person) for person in tree.people}
    outcome: Counter = Counter()
    for e, person in enumerate(tree.people):
        own = [i for i, p in enumerate(tree.people) if p == person]
        if len(own) < 2 or not np.isfinite(tree.enrolled[e]).all():
            continue
        enrolled = [e] + [index for other, index in first.items() if other != person]
        names = [tree.people[i] for i in enrolled]
        for probe in own:
            if probe == e:
                continue
            encoding = tree.plain[probe]
            if encoding is None:
                outcome["no face"] += 1
                continue
            distances = np.linalg.norm(tree.enrolled[enrolled] - encoding, axis=1)
            best = int(np.argmin(distances))
            name = names[best] if distances[best] <= tolerance else UNKNOWN
            outcome["right" if name == person else "unknown" if name == UNKNOWN else "wrong"] += 1
    return outcome


def identity_figures(label: str, tree: TreeEncodings, tolerance: float) -> None:
    loo = leave_one_out(tree, tolerance)
    same, stranger = pair_distances(tree)
    one = one_photo_enrollment(tree, tolerance)
    probes = sum(one.values())
    print(
        f"{label:22s} LOO {loo['accuracy']:.3f} (n {loo['n']}, unknown {loo['unknown_rate']:.3f}, "
        f"wrong {loo['wrong_rate']:.3f}, false accepts {loo['false_accept_rate']:.3f} of {loo['strangers']})  "
        f"same-person max {same:.3f}  closest stranger {stranger:.3f}  "
        f"one-photo {one['right']}/{probes} named, {one['wrong']} wrong, {one['unknown']} unknown"
    )


def size_figures(label: str, tree: TreeEncodings, detector: FaceDetector, tolerance: float) -> None:
    """Each photo scaled down so its face is N px wide, matched against the others at full size."""
    print(f"{label}: photos scaled so the face box is N px wide (largest face; LOO against full-size enrollments)")
    for size in SIZES:
        outcome: Counter = Counter()
        distances_right = []
        for i, path in enumerate(tree.photos):
            rgb = load_image(path)
            full = largest_box([d.box for d in detector.detect(rgb)])
            if full is None or width(full) <= size:
                continue
            scale = size / width(full)
            small = cv2.resize(
                rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA
            )
            box = largest_box([d.box for d in detector.detect(small)])
            others = [j for j in range(len(tree.people)) if j != i]
            stranger = tree.people[i] not in (tree.people[j] for j in others)
            if box is None:
                outcome["no face"] += 1
                continue
            encoding = encode_faces(small, [box], detector=detector)[0]
            distances = np.linalg.norm(tree.enrolled[others] - encoding, axis=1)
            best = int(np.argmin(distances))
            name = tree.people[others[best]] if distances[best] <= tolerance else UNKNOWN
            truth = UNKNOWN if stranger else tree.people[i]
            if not stranger:
                own = [d for d, j in zip(distances, others) if tree.people[j] == tree.people[i]]
                distances_right.append(min(own))
            outcome["right" if name == truth else "unknown" if name == UNKNOWN else "wrong"] += 1
        n = sum(outcome.values())
        print(
            f"  {size:3d} px: {n} photos  right {outcome['right']}  unknown {outcome['unknown']}  "
            f"wrong {outcome['wrong']}  no face {outcome['no face']}  "
            f"own-person distance median {statistics.median(distances_right):.3f} max {max(distances_right):.3f}"
        )


def enrolled_registry(faces: Path, detector: FaceDetector) -> Registry:
    registry = Registry()
    for name, folder in (MIRANDA, *DISTRACTORS):
        photos = sorted(p for p in (faces / folder).iterdir() if p.is_file())
        rows = []
        for photo in photos if folder == MIRANDA[1] else photos[:1]:
            rgb = load_image(photo)
            box = largest_box([d.box for d in detector.detect(rgb)])
            assert box is not None, photo
            rows.append(encode_faces(rgb, [box], ENROLL_JITTERS, detector=detector)[0])
        registry = registry.with_person(name, np.array(rows))
    return registry


def hamilton_figures(label: str, registry: Registry, settings: Settings) -> None:
    from emotion_core.analyzer import FrameAnalyzer
    from emotion_core.emotions import load_emotion_model
    from emotion_core.replay import analyze_video
    from emotion_core.video import read_frames

    model = load_emotion_model("faceapi", settings.models_dir)
    report = analyze_video(HAMILTON, registry, model, settings)
    stage = [o for o in report.observations if o.timestamp < STAGE_SHOT_END_S]
    later = [o for o in report.observations if o.timestamp >= STAGE_SHOT_END_S]

    def tally(observations: list) -> str:
        miranda = sum(o.person == MIRANDA[0] for o in observations)
        visitors = sum(is_visitor(o.person) or o.person == UNKNOWN for o in observations)
        return f"{miranda} Miranda, {visitors} visitor/Unknown, {len(observations) - miranda - visitors} wrong"

    print(
        f"{label:22s} hamilton: stage shot {len(stage)} observations: {tally(stage)}; "
        f"after the cut {len(later)}: {tally(later)}; people {len(report.final.people)}"
    )
    analyzer = FrameAnalyzer(registry, None, settings)
    widths: dict[str, list[int]] = {"Miranda": [], "other": []}
    for frame in read_frames(HAMILTON):
        if frame.timestamp >= STAGE_SHOT_END_S:
            break
        for face in analyzer.analyze(frame.bgr, frame.timestamp):
            widths["Miranda" if face.name == MIRANDA[0] else "other"].append(width(face.box))
    for who, values in widths.items():
        if values:
            q = np.percentile(values, [0, 25, 50, 75, 100]).round().astype(int).tolist()
            print(f"  stage-shot face widths, {who:7s} ({len(values)} face-frames): min/q1/median/q3/max {q}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=Path, default=SHARED / "faces")
    parser.add_argument("--sizes", action="store_true")
    parser.add_argument("--hamilton", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    path = model_path("retinaface", settings.models_dir)
    assert path is not None, "run: python -m emotion_core models fetch retinaface"
    hog = load_detector("hog", settings.models_dir)
    raw = RetinaFaceDetector(path, DETECT_MAX_SIDE, RETINAFACE_MIN_SCORE, encoding_map=BoxMap())
    fitted = fit_box_map(args.faces, hog, raw)
    print(f"in use: RETINAFACE_TO_HOG = {detectors.RETINAFACE_TO_HOG}")
    variants: list[tuple[str, FaceDetector, BoxMap | None]] = [
        ("hog", hog, None),
        ("retinaface, own box", raw, BoxMap()),
        (
            "retinaface, mapped",
            RetinaFaceDetector(path, DETECT_MAX_SIDE, RETINAFACE_MIN_SCORE, encoding_map=fitted),
            fitted,
        ),
    ]
    for label, detector, box_map in variants:
        tree = encode_tree(args.faces, detector)
        identity_figures(label, tree, settings.tolerance)
        if args.sizes:
            size_figures(label, tree, detector, settings.tolerance)
        if args.hamilton:
            if box_map is not None:
                detectors.RETINAFACE_TO_HOG = box_map  # what load_detector gives the analyzer
            hamilton_figures(
                label,
                enrolled_registry(args.faces, detector),
                settings.replace(detector=detector.name),
            )


if __name__ == "__main__":
    main()
