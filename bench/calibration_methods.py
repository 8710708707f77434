"""Compare ways of reading emotions relative to a person's resting face, on ../shared/data.

    .venv/bin/python bench/calibration_methods.py [--model faceapi]

Yale: each subject is calibrated on their Neutral image and the other images (Happy, Sad,
Surprise) are classified; the table gives accuracy and recall per class. "Rest kept" is the other
test: for each of the five John folders of faces/, the first half of the photos is the baseline,
and the share of the second half that still reads Neutral after correction (a correction that
turns a person's usual face into something else would score low).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from emotion_core.calibration import SMOOTHING, correct, make_baseline  # noqa: E402
from emotion_core.emotions import load_emotion_model  # noqa: E402
from emotion_core.labels import LABELS  # noqa: E402
from emotion_core.tools.evaluation import emotion_images, emotion_probabilities, subject_of  # noqa: E402

DATA = PROJECT_ROOT.parent / "shared" / "data"
JOHNS = ("john_salley", "john_savage", "john_schneider", "john_shimkus", "john_simm")
NEUTRAL = LABELS.index("Neutral")

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def reference(neutral: float) -> np.ndarray:
    u = np.full(len(LABELS), (1 - neutral) / (len(LABELS) - 1))
    u[NEUTRAL] = neutral
    return u


def prior(neutral: float, eps: float, floor_only: bool = False) -> Method:
    """p'(c) ∝ (p(c) + ε)·u(c)/(b(c) + ε); with `floor_only` p·u/max(b, ε) instead."""
    u = reference(neutral)
    if floor_only:
        return lambda p, b: p * u / np.maximum(b, eps)
    return lambda p, b: (p + eps) * u / (b + eps)


METHODS: dict[str, Method] = {
    "none (raw model output)": lambda p, b: p,
    "prior p·u/max(b, 0.01), u_N 0.5": prior(0.5, 0.01, floor_only=True),
    "prior p·u/max(b, 0.01), u_N 0.3": prior(0.3, 0.01, floor_only=True),
    "smoothed prior, ε 0.001, u_N 0.3": prior(0.3, 0.001),
    "smoothed prior, ε 0.01, u_N 0.5": prior(0.5, 0.01),
    f"**smoothed prior, ε {SMOOTHING}, u_N 0.3 (chosen)**": lambda p, b: correct(p, b),
    "smoothed prior, ε 0.03, u_N 0.3": prior(0.3, 0.03),
    "ratio (p+ε)/(b+ε), u uniform": prior(1 / len(LABELS), 0.01),
    "largest increase p − b": lambda p, b: p - b,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="faceapi")
    args = parser.parse_args()
    model = load_emotion_model(args.model)
    pairs = emotion_images(DATA / "emotions" / "yale")
    rows = emotion_probabilities(pairs, model)
    baselines = {subject_of(path): row for (path, truth), row in zip(pairs, rows) if truth == "Neutral"}
    tested = [(path, truth, row) for (path, truth), row in zip(pairs, rows) if truth != "Neutral"]
    johns = []
    for folder in JOHNS:
        photos = [(path, "Neutral") for path in sorted((DATA / "faces" / folder).iterdir())]
        found = [row for row in emotion_probabilities(photos, model) if row is not None]
        half = len(found) // 2
        johns.append((make_baseline(found[:half], model.name).vector(), found[half:]))
    classes = sorted({truth for _, truth, _ in tested}, key=LABELS.index)
    print(
        f"model {model.name}; Yale: {len(tested)} images of {len(baselines)} subjects; rest kept: {len(JOHNS)} people"
    )
    print("| method | Yale accuracy | " + " | ".join(f"{c} recall" for c in classes) + " | rest kept |")
    print("|---|---|" + "---|" * len(classes) + "---|")
    for name, method in METHODS.items():
        predicted = [LABELS[int(np.argmax(method(row, baselines[subject_of(path)])))] for path, _, row in tested]
        right = [p == truth for p, (_, truth, _) in zip(predicted, tested)]
        recall = [np.mean([r for r, (_, truth, _) in zip(right, tested) if truth == c]) for c in classes]
        kept = [int(np.argmax(method(row, baseline))) == NEUTRAL for baseline, rest in johns for row in rest]
        print(
            f"| {name} | {np.mean(right):.3f} | "
            + " | ".join(f"{r:.3f}" for r in recall)
            + f" | {np.mean(kept):.3f} ({sum(kept)}/{len(kept)}) |"
        )


if __name__ == "__main__":
    main()
