"""The bench command (analysis only): our live pipeline against the naive one on a video, or a long
memory run. No browser, WebRTC or Streamlit is involved; bench/e2e.py measures what the user sees."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import EMOTION_MODELS, Settings
from ..emotions import EmotionModel, load_emotion_model
from ..errors import SettingsError
from ..registry import Registry, open_registry
from ..tools.benchmark import load_frames, load_truth, run_benchmark, soak
from ..video import VideoFrame
from . import print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the bench command to the parser."""
    bench = commands.add_parser("bench", help="analysis only: time our pipeline against the naive one on a video")
    bench.add_argument("video", type=Path, metavar="VIDEO")
    # SUPPRESS: without this option here, the global --faces given before the command stays in effect.
    bench.add_argument("--faces", metavar="PATH", default=argparse.SUPPRESS, help="face registry file")
    bench.add_argument(
        "--model",
        choices=EMOTION_MODELS,
        default=None,
        help="emotion backend (default: settings, env EMOTION_MODEL, else auto)",
    )
    bench.add_argument(
        "--truth", type=Path, metavar="JSON", help="known identities (bench/make_videos.py writes one per video)"
    )
    bench.add_argument("--frames", type=int, metavar="N", help="use only the first N frames")
    bench.add_argument("--no-baseline", action="store_true", help="skip the (slow) naive pipeline")
    bench.add_argument(
        "--soak",
        type=float,
        metavar="SECONDS",
        help="instead: loop the video through our pipeline this long and report memory growth",
    )
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(handler=cmd_bench)


def load_inputs(
    args: argparse.Namespace,
) -> tuple[Settings, Registry, EmotionModel | None, list[VideoFrame]]:
    """Settings, registry, emotion model (or None) and decoded frames for a bench run."""

    settings = settings_from(args, emotion_model=args.model)
    if args.frames is not None and args.frames < 1:
        raise SettingsError("--frames must be at least 1")
    registry = open_registry(settings).load()
    model = (
        None if settings.emotion_model == "none" else load_emotion_model(settings.emotion_model, settings.models_dir)
    )
    return settings, registry, model, load_frames(args.video, args.frames)


def cmd_bench(args: argparse.Namespace) -> int:

    truth = load_truth(args.truth) if args.truth else None
    settings, registry, model, frames = load_inputs(args)
    if args.soak is not None:
        return _soak(args, settings, registry, model, frames)
    result = run_benchmark(frames, registry, model, settings, truth, baseline=not args.no_baseline)
    if args.json:
        print_json(result.summary())
        return 0
    print(
        f"analysis only (no browser, WebRTC or Streamlit) · {args.video}: "
        f"{len(frames)} frames of {frames[0].bgr.shape[1]}x{frames[0].bgr.shape[0]}, "
        f"{len(registry.people())} people enrolled, emotion model {model.name if model else 'none'}"
    )
    runs = [
        (run, score)
        for run, score in ((result.ours, result.ours_identity), (result.naive, result.naive_identity))
        if run is not None
    ]
    print(
        f"{'pipeline':<8} {'fps':>7} {'CPU ms':>7} {'p50 ms':>8} {'p95 ms':>8} {'identity':>9} {'wrong':>6}  "
        "ms per frame by stage"
    )
    for run, score in runs:
        accuracy = "-" if score is None or score.accuracy is None else f"{score.accuracy:.1%}"
        identity = f"{accuracy:>9} {'-' if score is None else score.wrong:>6}"
        stages = ", ".join(f"{name} {ms:.1f}" for name, ms in run.stage_ms_per_frame().items())
        print(
            f"{run.pipeline:<8} {run.fps:7.1f} {run.cpu_ms_per_frame:7.1f} {run.latency_ms(50):8.1f} "
            f"{run.latency_ms(95):8.1f} {identity}  {stages}"
        )
    summary = result.summary()
    if summary["speedup"] is not None:
        print(f"speedup {summary['speedup']:.1f}x")
    return 0


def _soak(
    args: argparse.Namespace,
    settings: Settings,
    registry: Registry,
    model: EmotionModel | None,
    frames: list[VideoFrame],
) -> int:

    def progress(elapsed: float, rss: float) -> None:
        if not args.json:
            print(f"  {elapsed:6.0f} s  RSS {rss:7.1f} MB", file=sys.stderr, flush=True)

    result = soak(frames, registry, model, settings, args.soak, progress=progress)
    document = {
        "frames": result.frames,
        "seconds": round(result.seconds, 1),
        "fps": round(result.frames / result.seconds, 2) if result.seconds else 0.0,
        "rss_start_mb": round(result.rss_start_mb, 1),
        "rss_end_mb": round(result.rss_end_mb, 1),
        "rss_max_mb": round(result.rss_max_mb, 1),
        "growth_mb": round(result.growth_mb, 1),
    }
    if args.json:
        print_json(document)
    else:
        print(
            f"{document['frames']} frames in {document['seconds']} s ({document['fps']} fps): RSS "
            f"{document['rss_start_mb']} -> {document['rss_end_mb']} MB (max {document['rss_max_mb']}), "
            f"growth {document['growth_mb']} MB"
        )
    return 0
