"""Analysis only: run the analyzer benchmark on every input several times and print the median
figures as Markdown. It times `FrameAnalyzer.analyze` in this process, without browser, WebRTC or
Streamlit; bench/e2e.py measures what the user sees.

    .venv/bin/python bench/make_videos.py        # once: builds bench/out/
    .venv/bin/python bench/run_all.py [--runs 3] [--soak 300]

Inputs: bench/out/faces{1,3,5}.mp4 (ground truth per frame) and the hamilton clip (every face is
Lin-Manuel Miranda), all with bench/out/faces.pkl. Each run decodes the frames once and times our
pipeline and the naive one on them in this process; the table gives the median of the runs.
`--soak` adds a looped run of our pipeline on the 5-face video measuring resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from emotion_core.config import load_settings  # noqa: E402
from emotion_core.emotions import load_emotion_model  # noqa: E402
from emotion_core.registry import load_registry  # noqa: E402
from emotion_core.tools.benchmark import load_frames, load_truth, run_benchmark, soak  # noqa: E402

OUT = PROJECT_ROOT / "bench" / "out"
HAMILTON = PROJECT_ROOT.parent / "shared" / "data" / "videos" / "fr__short_hamilton_clip.mp4"
INPUTS = {  # name -> (video, truth, faces shown)
    "faces1": (OUT / "faces1.mp4", OUT / "faces1.truth.json", "1"),
    "faces3": (OUT / "faces3.mp4", OUT / "faces3.truth.json", "3"),
    "faces5": (OUT / "faces5.mp4", OUT / "faces5.truth.json", "5"),
    "hamilton": (HAMILTON, OUT / "hamilton.truth.json", "0-1"),
}


def machine() -> str:
    """CPU model, cores, load and library versions, for the table's caption."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    import dlib
    import onnxruntime

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores; load average {load}; Python {platform.python_version()}, "
        f"dlib {dlib.__version__}, onnxruntime {onnxruntime.__version__}"
    )


def median(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--baseline-runs",
        type=int,
        default=None,
        metavar="N",
        help="run the (slow) naive pipeline only in the first N runs (default: every run)",
    )
    parser.add_argument("--frames", type=int, default=None, help="first N frames of each input")
    parser.add_argument("--model", default="faceapi", choices=("auto", "hsemotion", "faceapi", "none"))
    parser.add_argument("--inputs", nargs="+", default=list(INPUTS), choices=list(INPUTS))
    parser.add_argument(
        "--soak",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="also loop the 5-face video this long through our pipeline and report memory",
    )
    args = parser.parse_args()
    if not (OUT / "faces.pkl").is_file():
        parser.exit(2, "bench/out/faces.pkl is missing: run bench/make_videos.py first\n")

    settings = load_settings(faces_path=OUT / "faces.pkl", emotion_model=args.model)
    registry = load_registry(settings.faces_path)
    model = None if args.model == "none" else load_emotion_model(args.model, settings.models_dir)
    before = machine()
    inputs = {name: (load_frames(INPUTS[name][0], args.frames), load_truth(INPUTS[name][1])) for name in args.inputs}
    results: dict[str, list] = {name: [] for name in inputs}
    started = time.time()
    for run in range(args.runs):
        for name, (frames, truth) in inputs.items():
            baseline = args.baseline_runs is None or run < args.baseline_runs
            result = run_benchmark(frames, registry, model, settings, truth, baseline=baseline)
            results[name].append(result)
            summary = result.summary()
            print(
                f"run {run + 1}/{args.runs} {name}: ours {summary['fps']} fps, naive {summary['baseline_fps']} fps",
                file=sys.stderr,
                flush=True,
            )

    naive_runs = min(args.runs, args.baseline_runs or args.runs)
    print(
        f"Analysis only (no browser, WebRTC or Streamlit; see bench/e2e.py for what the user sees). "
        f"Median of {args.runs} runs of ours and {naive_runs} of the naive pipeline, "
        f"{model.name if model else 'no'} emotion model, {(time.time() - started) / 60:.0f} min.  \n"
        f"Before: {before}.  \nAfter: {machine()}.\n"
    )
    print(
        "| input | faces | frames | ours fps | naive fps | speedup | CPU ms/frame ours / naive | CPU speedup "
        "| ours p50 / p95 ms | naive p50 / p95 ms | identity ours | identity naive | wrong names ours / naive "
        "| faces found ours / naive |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, runs in results.items():
        ours = lambda get, runs=runs: median([get(r.ours, r.ours_identity) for r in runs])  # noqa: E731
        naive = lambda get, runs=runs: median([get(r.naive, r.naive_identity) for r in runs if r.naive])  # noqa: E731
        fps, cpu = (lambda run, _: run.fps), (lambda run, _: run.cpu_ms_per_frame)
        p50, p95 = (lambda run, _: run.latency_ms(50)), (lambda run, _: run.latency_ms(95))
        accuracy, wrong = (lambda _, score: score.accuracy), (lambda _, score: score.wrong)
        found = lambda run, _: sum(len(faces) for faces in run.faces)  # noqa: E731
        print(
            f"| {name} | {INPUTS[name][2]} | {runs[0].ours.frames} | {ours(fps):.1f} | {naive(fps):.1f} "
            f"| {ours(fps) / naive(fps):.1f}x | {ours(cpu):.1f} / {naive(cpu):.0f} | {naive(cpu) / ours(cpu):.1f}x "
            f"| {ours(p50):.1f} / {ours(p95):.0f} | {naive(p50):.0f} / {naive(p95):.0f} "
            f"| {percent(ours(accuracy))} | {percent(naive(accuracy))} | {ours(wrong):.0f} / {naive(wrong):.0f} "
            f"| {ours(found):.0f} / {naive(found):.0f} |"
        )

    print("\nMilliseconds per frame by stage (median of runs; `other` = tracking, resizing, bookkeeping):\n")
    print("| input | pipeline | " + " | ".join(STAGES) + " | total |")
    print("|---|---|" + "---|" * (len(STAGES) + 1))
    for name, runs in results.items():
        for label, pipeline_runs in (("ours", [r.ours for r in runs]), ("naive", [r.naive for r in runs if r.naive])):
            stages = [run.stage_ms_per_frame() for run in pipeline_runs]
            cells = [median([s.get(stage) for s in stages]) for stage in STAGES]
            total = median([sum(s.values()) for s in stages])
            print(
                f"| {name} | {label} | "
                + " | ".join("-" if c is None else f"{c:.1f}" for c in cells)
                + f" | {total:.1f} |"
            )

    if args.soak:
        frames = inputs["faces5"][0] if "faces5" in inputs else load_frames(INPUTS["faces5"][0], args.frames)
        memory = soak(
            frames,
            registry,
            model,
            settings,
            args.soak,
            progress=lambda s, rss: print(f"  soak {s:.0f} s RSS {rss:.1f} MB", file=sys.stderr),
        )
        print(
            f"\nMemory: {memory.frames} frames of faces5 looped for {memory.seconds:.0f} s "
            f"({memory.frames / memory.seconds:.1f} fps): RSS {memory.rss_start_mb:.1f} -> "
            f"{memory.rss_end_mb:.1f} MB (max {memory.rss_max_mb:.1f}), growth {memory.growth_mb:+.1f} MB."
        )
    return 0


STAGES = ("convert", "detect", "encode", "match", "emotion", "other")

if __name__ == "__main__":
    sys.exit(main())
