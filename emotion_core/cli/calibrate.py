"""Calibration commands: record a person's resting-face baseline from files, or clear it."""

from __future__ import annotations

import argparse
import sys

from ..emotions import MODEL_CHOICES
from ..errors import EnrollmentError
from ..registry import open_registry, set_baseline
from . import print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the calibrate command to the parser."""
    calibrate = commands.add_parser("calibrate", help="record a person's resting face from photos or videos")
    calibrate.add_argument("name")
    calibrate.add_argument("files", nargs="*", metavar="FILE", help="photos or videos of the person's resting face")
    calibrate.add_argument("--clear", action="store_true", help="remove the person's baseline instead")
    calibrate.add_argument("--model", choices=MODEL_CHOICES, default=None, help="emotion backend (default: settings)")
    calibrate.add_argument("--json", action="store_true")
    calibrate.set_defaults(handler=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    store = open_registry(settings)
    name = args.name.strip()
    if args.clear:
        if args.files:
            raise EnrollmentError("calibrate --clear takes a name and no files")
        set_baseline(store, name, None)
        if args.json:
            print_json({"name": name, "cleared": True})
        else:
            print(f"cleared the baseline of {name}")
        return 0
    if not args.files:
        raise EnrollmentError("give one or more photos or videos of the person's resting face")
    registry = store.load()
    if name not in registry.names:
        raise EnrollmentError(f"no enrolled person named {name!r}")
    from ..calibration import baseline_from_files
    from ..emotions import load_emotion_model

    model = load_emotion_model(args.model or settings.emotion_model, settings.models_dir)
    baseline = baseline_from_files(
        registry,
        name,
        args.files,
        model,
        settings.tolerance,
        lambda line: print(line, file=sys.stderr),
        settings.max_image_pixels,
    )
    set_baseline(store, name, baseline)
    if args.json:
        print_json(
            {
                "name": name,
                "frames": baseline.frames,
                "baseline": {label: round(p, 4) for label, p in baseline.mean.items()},
                "model": baseline.model,
            }
        )
    else:
        ranked = sorted(baseline.mean.items(), key=lambda item: -item[1])
        details = "  ".join(f"{label} {p:.2f}" for label, p in ranked if p >= 0.005)
        print(f"calibrated {name} from {baseline.frames} frame(s) with {baseline.model}: {details}")
    return 0
