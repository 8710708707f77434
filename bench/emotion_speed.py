"""CPU milliseconds per face of each emotion backend, as docs/emotion-models.md reports them.

One 640x480 frame (a Yale face scaled up, the box from the default detector) is classified with
1 face and with 5 faces (the box shifted by a few pixels) per `predict` call. The variants are
interleaved call by call, so a load change on the shared machine hits all of them alike; each
run times every variant CALLS times with `time.process_time` (the process's CPU time, onnxruntime
uses one thread) and the figure is the median over RUNS of each run's median. It also splits the
networks' cost into preprocessing (crop, pad, resize) and inference.

    .venv/bin/python bench/emotion_speed.py [--runs 5] [--calls 60]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotion_core.config import load_settings
from emotion_core.emotions import EnsembleModel, load_emotion_model
from emotion_core.images import load_image
from emotion_core.networks import ENSEMBLE_MEMBERS
from emotion_core.recognition import detect_faces

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FACE = DATA / "emotions" / "yale" / "subject01.happy"


def cpu_ms(call: Callable[[], object]) -> float:
    start = time.process_time()
    call()
    return 1000.0 * (time.process_time() - start)


def interleaved(variants: dict[str, Callable[[], object]], runs: int, calls: int) -> dict[str, list[float]]:
    """Each run's median CPU ms per variant, the variants timed in turn call by call."""
    for call in variants.values():
        call()  # warm-up
    medians: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(runs):
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(calls):
            for name, call in variants.items():
                times[name].append(cpu_ms(call))
        for name in variants:
            medians[name].append(statistics.median(times[name]))
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=60)
    args = parser.parse_args()
    models_dir = load_settings().models_dir
    frame = cv2.resize(load_image(FACE), (640, 480), interpolation=cv2.INTER_LINEAR)
    box = detect_faces(frame)[0]
    top, right, bottom, left = box
    five = [(top + d, right + d, bottom + d, left + d) for d in (0, 3, -3, 6, -6)]
    members = [load_emotion_model(name, models_dir) for name in ENSEMBLE_MEMBERS]
    models = {
        "faceapi": members[0],
        "human": members[1],
        "ensemble without flip": EnsembleModel(members, flip=False),
        "ensemble (flip)": EnsembleModel(members, flip=True),
    }
    print(f"face box {box} in a 640x480 frame; {args.runs} runs x {args.calls} interleaved calls")
    print(f"load average before: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    parts: dict[str, Callable[[], object]] = {}
    for member in members:
        batch = member.preprocess(frame, [box])
        parts[f"{member.name} preprocess"] = lambda m=member: m.preprocess(frame, [box])
        parts[f"{member.name} inference"] = lambda m=member, b=batch: m.infer(b)
    one = interleaved({name: lambda m=m: m.predict(frame, [box]) for name, m in models.items()}, args.runs, args.calls)
    many = interleaved({name: lambda m=m: m.predict(frame, five) for name, m in models.items()}, args.runs, args.calls)
    split = interleaved(parts, args.runs, args.calls)
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| backend | ms per face, 1 face per call | ms per face, 5 faces per call | run medians (1 face) |")
    print("|---|---|---|---|")
    for name in models:
        runs = " ".join(f"{v:.2f}" for v in one[name])
        print(f"| {name} | {statistics.median(one[name]):.2f} | {statistics.median(many[name]) / 5:.2f} | {runs} |")
    print("\n| one face, one view | CPU ms |\n|---|---|")
    for name, values in split.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
