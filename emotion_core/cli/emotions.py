"""Emotion commands: models status, models fetch, emotions, eval emotions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..emotions import MODEL_CHOICES, EmotionModel, classify_image, load_emotion_model
from ..errors import ModelUnavailableError
from ..labels import LABELS
from ..tools.evaluation import NO_FACE, evaluate_calibrated_emotions, evaluate_emotions
from ..weights import MODEL_NAMES, fetch_model, model_status
from . import print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the emotion and model commands to the parser."""
    models = commands.add_parser("models", help="emotion and face detector model weights: status and fetch")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="list each emotion network and face detector with its weights")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=cmd_models_status)
    fetch = actions.add_parser("fetch", help="get and prepare model weights")
    fetch.add_argument("name", nargs="?", default="all", choices=(*MODEL_NAMES, "all"))
    fetch.set_defaults(handler=cmd_models_fetch)

    emotions = commands.add_parser("emotions", help="classify the emotion of the faces in images")
    emotions.add_argument("images", nargs="+", metavar="IMAGE")
    _model_options(emotions)
    emotions.set_defaults(handler=cmd_emotions)

    evaluate = eval_commands.add_parser("emotions", help="emotion accuracy over DIR/<label>/* or a path,label CSV")
    evaluate.add_argument("source", type=Path, metavar="DIR|CSV")
    _model_options(evaluate)
    evaluate.add_argument(
        "--calibrate-by-subject",
        action="store_true",
        help="files named <subject>.<emotion>: calibrate on each subject's Neutral image(s), evaluate the rest",
    )
    evaluate.set_defaults(handler=cmd_eval_emotions)


def _model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default=None,
        help="emotion backend (default: settings, env EMOTION_MODEL, else auto)",
    )
    parser.add_argument("--crop", action="store_true", help="each image is one face crop (no detection)")
    parser.add_argument("--json", action="store_true")


def _models_dir(args: argparse.Namespace) -> Path:
    return settings_from(args).models_dir


def cmd_models_status(args: argparse.Namespace) -> int:
    from ..detectors import load_detector

    settings = settings_from(args)
    statuses = model_status(settings.models_dir)
    # The detector the commands and the app will use (after any fallback), as they load it.
    detector = load_detector(settings.detector, settings.models_dir).name
    if args.json:
        print_json(
            [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "available": s.available,
                    "path": str(s.path) if s.path else None,
                    "size_bytes": s.size_bytes,
                    "source": s.source,
                    **({"in_use": s.name == detector} if s.kind == "detector" else {}),
                }
                for s in statuses
            ]
        )
        return 0
    for s in statuses:
        where = f"{s.path} ({(s.size_bytes or 0) / 1e6:.1f} MB)" if s.path else "not available"
        print(f"{s.name:<10} {'available' if s.available else 'missing':<9}  {where}  source: {s.source}")
    print(f"face detector in use: {detector} (EMOTION_DETECTOR={settings.detector})")
    return 0


def _progress(message: str) -> None:
    ending = "" if message.startswith("downloading ") and "MB" in message else "\n"
    sys.stderr.write(("\r" if not ending else "") + message + ending)
    sys.stderr.flush()


def cmd_models_fetch(args: argparse.Namespace) -> int:
    models_dir = _models_dir(args)
    names = MODEL_NAMES if args.name == "all" else (args.name,)
    failures = []
    for name in names:
        try:
            path = fetch_model(name, models_dir, progress=_progress)
        except ModelUnavailableError as exc:
            if args.name != "all":
                raise
            failures.append(f"{name}: {exc}")
            continue
        print(f"{name}: {path}")
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 2 if len(failures) == len(names) else 0


def _load_model(args: argparse.Namespace) -> EmotionModel:
    settings = settings_from(args)
    # An explicit --model may fetch missing weights (with progress); auto/settings never do.
    return load_emotion_model(
        args.model or settings.emotion_model, settings.models_dir, fetch=args.model is not None, progress=_progress
    )


def cmd_emotions(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    model = _load_model(args)
    results = []
    for path in args.images:
        faces = classify_image(model, path, crop=args.crop, max_pixels=settings.max_image_pixels)
        results.append(
            {
                "image": path,
                "faces": [
                    {
                        "box": list(face.box),
                        "emotion": face.emotion,
                        "scores": {label: round(float(p), 4) for label, p in face.scores.items()},
                    }
                    for face in faces
                ],
            }
        )
    if args.json:
        print_json(results)
        return 0
    for result in results:
        if not result["faces"]:
            print(f"{result['image']}: no face found")
        for face in result["faces"]:
            ranked = sorted(face["scores"].items(), key=lambda item: -item[1])
            details = "  ".join(f"{label} {p:.2f}" for label, p in ranked if p >= 0.005)
            print(f"{result['image']} {face['box']}: {face['emotion']}  ({details})")
    return 0


def cmd_eval_emotions(args: argparse.Namespace) -> int:
    model = _load_model(args)
    evaluate = evaluate_calibrated_emotions if args.calibrate_by_subject else evaluate_emotions
    report = evaluate(args.source, model, crop=args.crop, progress=sys.stderr)
    if args.json:
        print_json(report)
        return 0
    print(f"model {model.name}  images {report['n']}  accuracy {report['accuracy']:.3f}")
    if args.calibrate_by_subject:
        print(
            f"calibrated on the Neutral image(s) of {report['subjects']} subjects: "
            f"accuracy {report['calibrated_accuracy']:.3f}; recall "
            + "  ".join(f"{label} {recall:.3f}" for label, recall in report["calibrated_per_class"].items())
        )
    if report["no_face"]:
        print(f"no face found in {len(report['no_face'])} image(s) (counted wrong): " + ", ".join(report["no_face"]))
    print("per-class recall: " + "  ".join(f"{label} {recall:.3f}" for label, recall in report["per_class"].items()))
    predicted = [label for label in (*LABELS, NO_FACE) if any(row.get(label) for row in report["confusion"].values())]
    width = max(len(label) for label in (*report["confusion"], *predicted, "true\\pred")) + 1
    print("confusion (rows true, columns predicted):")
    print("true\\pred".ljust(width) + "".join(label[:7].rjust(8) for label in predicted))
    for truth, row in report["confusion"].items():
        print(truth.ljust(width) + "".join(str(row.get(label, 0)).rjust(8) for label in predicted))
    return 0
