"""Build the benchmark inputs in bench/out/ from ../shared/data.

    .venv/bin/python bench/make_videos.py

Writes 640x480, 30 fps videos with 1, 3 and 5 real faces moving slowly (face photos composited on
a plain background), a ground-truth JSON per video (per frame: each face's box and name), a truth
file for the hamilton clip (every face of the stage shot is Lin-Manuel Miranda), and `faces.pkl` enrolling
every person from photos that are NOT used in any video.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_core.boxes import Box
from emotion_core.config import load_settings
from emotion_core.detectors import HOG_MIN_SCORE, HogDetector
from emotion_core.images import load_image
from emotion_core.recognition import enroll

PROJECT_ROOT = Path(__file__).resolve().parent.parent

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
FACES = SHARED_DATA / "faces"
HAMILTON = SHARED_DATA / "videos" / "fr__short_hamilton_clip.mp4"
OUT = PROJECT_ROOT / "bench" / "out"

WIDTH, HEIGHT, FPS = 640, 480, 30.0
PERIOD_S = 6.0  # one loop of each face's slow elliptical path

# folder -> (enrolled name, photo shown in the videos); every other photo of the folder is enrolled.
PEOPLE: dict[str, tuple[str, str | None]] = {
    "barack_obama": ("Barack Obama", "fr__obama.jpg"),
    "joe_biden": ("Joe Biden", "fr__biden2.jpg"),
    "kit_harington": ("Kit Harington", "fr__john2.jpeg"),
    "rose_leslie": ("Rose Leslie", "fr__img2.jpg"),
    "john_salley": ("John Salley", "dlib__000186_02159346.jpg"),
    "john_savage": ("John Savage", "dlib__000264_01099001.jpg"),
    "john_schneider": ("John Schneider", "dlib__000326_00925765.jpg"),
    "john_shimkus": ("John Shimkus", "dlib__000373_03228153.jpg"),
    "john_simm": ("John Simm", "dlib__000288_00470387.jpg"),
    # enrolled only: Miranda for the hamilton clip, the others as distractors
    "lin_manuel_miranda": ("Lin-Manuel Miranda", None),
    "alex_lacamoire": ("Alex Lacamoire", None),
    "eileen_collins": ("Eileen Collins", None),
}
HAMILTON_NAME = "Lin-Manuel Miranda"
HAMILTON_STAGE_END_S = 7.2  # the clip then cuts to the audience: other, unenrolled people
ENROLL_PER_PERSON = 3


@dataclass(frozen=True)
class Placement:
    """One face in a video: whose photo, its face size, and the centre of its slow path."""

    folder: str
    face_px: int
    centre: tuple[float, float]
    amplitude: tuple[float, float]
    phase: float


VIDEOS: dict[str, list[Placement]] = {
    "faces1": [Placement("barack_obama", 170, (320, 240), (60, 30), 0.0)],
    "faces3": [
        Placement("joe_biden", 110, (110, 240), (12, 60), 0.0),
        Placement("kit_harington", 110, (320, 240), (12, 60), 2.1),
        Placement("rose_leslie", 110, (530, 240), (12, 60), 4.2),
    ],
    "faces5": [
        Placement("john_salley", 100, (110, 125), (15, 15), 0.0),
        Placement("john_savage", 100, (320, 125), (15, 15), 1.3),
        Placement("john_schneider", 100, (530, 125), (15, 15), 2.6),
        Placement("john_shimkus", 100, (215, 350), (15, 15), 3.9),
        Placement("john_simm", 100, (425, 350), (15, 15), 5.2),
    ],
}


@dataclass(frozen=True)
class Sprite:
    """A face crop ready to paste: BGR pixels, feathered alpha, and the face box inside it."""

    bgr: np.ndarray
    alpha: np.ndarray
    face: Box


def photo_path(folder: str) -> Path:
    return FACES / folder / PEOPLE[folder][1]


def make_sprite(photo: Path, face_px: int) -> Sprite:
    """Crop the face of `photo` with a margin and scale it to `face_px` wide."""
    rgb = load_image(photo)
    boxes = [face.box for face in HogDetector(min_score=HOG_MIN_SCORE).detect(rgb)]  # the videos' truth
    if len(boxes) != 1:
        raise SystemExit(f"{photo}: expected one face, found {len(boxes)}")
    top, right, bottom, left = boxes[0]
    side = right - left
    margin = round(0.3 * side)
    y0, y1 = max(top - margin, 0), min(bottom + margin, rgb.shape[0])
    x0, x1 = max(left - margin, 0), min(right + margin, rgb.shape[1])
    scale = face_px / side
    crop = cv2.resize(rgb[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    face = tuple(
        round(v) for v in ((top - y0) * scale, (right - x0) * scale, (bottom - y0) * scale, (left - x0) * scale)
    )
    height, width = crop.shape[:2]
    feather = max(4, round(0.06 * min(height, width)))
    ramp_y = np.clip(np.minimum(np.arange(height), np.arange(height)[::-1]) / feather, 0, 1)
    ramp_x = np.clip(np.minimum(np.arange(width), np.arange(width)[::-1]) / feather, 0, 1)
    alpha = (ramp_y[:, None] * ramp_x[None, :])[..., None].astype(np.float32)
    return Sprite(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR).astype(np.float32), alpha, face)  # type: ignore[arg-type]


def background() -> np.ndarray:
    """A plain vertical colour gradient (BGR float)."""
    rows = np.linspace(0.0, 1.0, HEIGHT)[:, None, None]
    top, bottom = np.array([95, 80, 70], np.float32), np.array([170, 160, 150], np.float32)
    return np.broadcast_to(top + (bottom - top) * rows, (HEIGHT, WIDTH, 3)).astype(np.float32)


def render(
    placements: list[Placement], sprites: list[Sprite], t: float, base: np.ndarray
) -> tuple[np.ndarray, list[dict]]:
    """The frame at time `t` and its ground truth (name and face box of every face)."""
    frame = base.copy()
    truth = []
    for place, sprite in zip(placements, sprites):
        angle = 2 * math.pi * t / PERIOD_S + place.phase
        cx = place.centre[0] + place.amplitude[0] * math.sin(angle)
        cy = place.centre[1] + place.amplitude[1] * math.cos(angle)
        height, width = sprite.bgr.shape[:2]
        x0, y0 = round(cx - width / 2), round(cy - height / 2)
        if x0 < 0 or y0 < 0 or x0 + width > WIDTH or y0 + height > HEIGHT:
            raise SystemExit(f"{place.folder}: face leaves the frame; fix its placement")
        region = frame[y0 : y0 + height, x0 : x0 + width]
        region[:] = sprite.bgr * sprite.alpha + region * (1 - sprite.alpha)
        top, right, bottom, left = sprite.face
        truth.append({"name": PEOPLE[place.folder][0], "box": [top + y0, right + x0, bottom + y0, left + x0]})
    return np.clip(frame, 0, 255).astype(np.uint8), truth


def write_video(name: str, placements: list[Placement], seconds: float) -> Path:
    """Write `name`.mp4 and `name`.truth.json; return the video path."""
    sprites = [make_sprite(photo_path(p.folder), p.face_px) for p in placements]
    base = background()
    path = OUT / f"{name}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {path}")
    frames = []
    for index in range(round(seconds * FPS)):
        frame, truth = render(placements, sprites, index / FPS, base)
        writer.write(frame)
        frames.append(truth)
    writer.release()
    truth_doc = {"video": path.name, "fps": FPS, "width": WIDTH, "height": HEIGHT, "frames": frames}
    (OUT / f"{name}.truth.json").write_text(json.dumps(truth_doc))
    return path


def enroll_all(path: Path) -> None:
    """Enroll every person from photos not shown in any video."""
    path.unlink(missing_ok=True)
    settings = load_settings()
    for folder, (name, shown) in PEOPLE.items():
        photos = sorted(p for p in (FACES / folder).iterdir() if p.is_file() and p.name != shown)
        enroll(
            path,
            name,
            photos[:ENROLL_PER_PERSON],
            tolerance=settings.tolerance,
            min_face=settings.min_enroll_face,
            max_pixels=settings.max_image_pixels,
        )


def check_detectable(path: Path) -> None:
    """Print how many ground-truth faces of the first frame full-frame HOG finds (a sanity check)."""
    truth = json.loads(path.with_suffix("").with_suffix(".truth.json").read_text())["frames"][0]
    capture = cv2.VideoCapture(str(path))
    ok, frame = capture.read()
    capture.release()
    found = HogDetector(upsample=1, max_side=None).detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) if ok else []
    print(f"{path.name}: {len(truth)} faces placed, full-frame HOG finds {len(found)} in frame 0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each generated video")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    enroll_all(OUT / "faces.pkl")
    print(f"enrolled {len(PEOPLE)} people into {OUT / 'faces.pkl'}")
    for name, placements in VIDEOS.items():
        check_detectable(write_video(name, placements, args.seconds))
    (OUT / "hamilton.truth.json").write_text(
        json.dumps({"video": str(HAMILTON), "name": HAMILTON_NAME, "until_s": HAMILTON_STAGE_END_S})
    )
    print(f"wrote {OUT / 'hamilton.truth.json'} (every face before {HAMILTON_STAGE_END_S} s is {HAMILTON_NAME})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
