"""Live-analysis commands: analyze a video, list logged sessions, export a session."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TextIO

from ..calibration import usable_baseline
from ..config import EMOTION_MODELS, Settings
from ..emotions import EmotionModel, load_emotion_model
from ..labels import LABELS
from ..live import FinalScores, PersonStats, person_stats
from ..registry import open_registry
from ..replay import analyze_video
from ..store import EmotionLog, write_csv
from . import print_json, settings_from


def register(commands: argparse._SubParsersAction, eval_commands: argparse._SubParsersAction) -> None:
    """Add the live-analysis commands to the parser."""
    analyze = commands.add_parser("analyze", help="run a video through the live pipeline with counting on")
    analyze.add_argument("video", type=Path)
    analyze.add_argument(
        "--model",
        choices=EMOTION_MODELS,
        default=None,
        help="emotion backend (default: settings, env EMOTION_MODEL, else auto)",
    )
    analyze.add_argument(
        "--sample-period",
        type=float,
        default=None,
        metavar="S",
        help="seconds between two observations of a face (default 0.5)",
    )
    analyze.add_argument(
        "--every", type=int, default=1, metavar="N", help="process only every N-th frame, as a slower machine would"
    )
    output = analyze.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    output.add_argument("--csv", type=Path, metavar="FILE", help="write one row per observation to FILE")
    analyze.add_argument("--db", action="store_true", help="also log the run as a session in the emotion log")
    analyze.set_defaults(handler=cmd_analyze)

    sessions = commands.add_parser("sessions", help="list the sessions in the emotion log")
    sessions.add_argument("--json", action="store_true")
    sessions.set_defaults(handler=cmd_sessions)

    export = commands.add_parser("export", help="write a session's observations to a CSV file")
    export.add_argument("session", type=int)
    export.add_argument("--csv", type=Path, required=True, metavar="FILE")
    export.set_defaults(handler=cmd_export)

    report = commands.add_parser("report", help="write a session's report as one HTML or PDF file")
    report.add_argument("session", type=int)
    report.add_argument("--format", choices=("html", "pdf"), default="html", help="file format (default html)")
    report.add_argument("--out", type=Path, required=True, metavar="FILE")
    report.set_defaults(handler=cmd_report)


def load_model(choice: str, settings: Settings) -> EmotionModel | None:
    """The emotion model for `choice`, or None for "none"."""
    if choice == "none":
        return None

    return load_emotion_model(choice, settings.models_dir)


def _points(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 3)


def _score(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def cmd_analyze(args: argparse.Namespace) -> int:

    settings = settings_from(args, sample_period=args.sample_period)
    model = load_model(args.model or settings.emotion_model, settings)
    registry = open_registry(settings).load()
    log = EmotionLog(settings.db_url, settings.db_timeouts) if args.db else None
    bar = ProgressBar(sys.stderr, str(args.video.name)) if not args.json and sys.stderr.isatty() else None
    try:
        report = analyze_video(
            args.video, registry, model, settings, every=args.every, log=log, progress=bar.update if bar else None
        )
        if bar is not None:
            bar.update(report.duration_s, report.duration_s)
    finally:
        if bar is not None:
            bar.close()
        if log is not None:
            log.close()
    final = report.final
    model_name = None if model is None else model.name
    calibrated = {name for name in registry.baselines if usable_baseline(registry.baselines, name, model_name)}
    if args.json:
        # Everyone enrolled has an entry, observed or not (then 0 observations and a null score).
        people: dict[str, PersonStats] = {p.name: p for p in final.people}
        for name in registry.people():
            people.setdefault(name, person_stats(name, {}, settings.weights))
        print_json(
            {
                "frames": report.frames,
                "duration_s": round(report.duration_s, 3),
                "people": {
                    p.name: {
                        "counts": dict(p.counts),
                        "observations": p.total,
                        "score": _score(p.score),
                        "points": _points(p.points),
                        **({"calibrated": True} if p.name in calibrated else {}),
                    }
                    for p in people.values()
                },
                "overall_score": _score(final.overall_score),
                "processing_fps": round(report.fps, 2),
                "session": report.session_id,
            }
        )
        return 0
    if args.csv is not None:
        rows = write_csv(report.observations, args.csv)
        print(f"{rows} observations written to {args.csv}", file=sys.stderr)
    print(
        f"{args.video}: {report.frames} frames, {report.duration_s:.1f} s of video, "
        f"processed at {report.fps:.1f} frames/s"
        + (f", model {model.name}" if model is not None else ", no emotion model (nothing counted)")
    )
    _print_final(final)
    if report.session_id is not None:
        print(f"logged as session {report.session_id}")
    return 0


def _print_final(final: FinalScores) -> None:
    if not final.people:
        print("no observations")
        return
    for person in final.people:
        counts = ", ".join(f"{label} {person.counts[label]}" for label in LABELS if person.counts[label])
        print(
            f"{person.name}: {person.total} observations, score {_format_score(person.score)}, "
            f"points {_points(person.points)} ({counts})"
        )
    print(
        f"overall: {final.total} observations, score {_format_score(final.overall_score)}, "
        f"points {_points(final.overall_points)}"
    )


def _format_score(score: float | None) -> str:
    return "-" if score is None else f"{score:.1f}"


def _time(unix: float | None) -> str:
    return "-" if unix is None else datetime.fromtimestamp(unix).isoformat(sep=" ", timespec="seconds")


def cmd_sessions(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    log = EmotionLog(settings.db_url, settings.db_timeouts)
    try:
        sessions = log.sessions()
    finally:
        log.close()
    if args.json:
        print_json(
            [
                {
                    "id": s.id,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                    "model": s.model,
                    "people": s.people,
                    "observations": s.observations,
                    "final": s.final,
                }
                for s in sessions
            ]
        )
    elif not sessions:
        print("no sessions logged")
    else:
        for s in sessions:
            final = s.final_scores()
            score = final.overall_score if final is not None else None
            print(
                f"{s.id}\t{_time(s.started_at)}\t{_time(s.ended_at)}\t{s.model or '-'}\t"
                f"{s.observations} observations\tscore {_format_score(score)}\t{', '.join(s.people) or '-'}"
            )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..history import SessionArchive
    from ..report import load_report, write_report

    settings = settings_from(args)
    archive = SessionArchive(settings.db_url, settings.db_timeouts)
    try:
        report = load_report(archive, args.session, settings)
    finally:
        archive.close()
    path = write_report(report, args.format, args.out)
    print(f"report of session {args.session} written to {path}")
    return 0


class ProgressBar:
    """A one-line text progress bar redrawn in place on a terminal stream."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str) -> None:
        self._stream, self._label, self._shown = stream, label, ""

    def update(self, done: float, total: float) -> None:
        """Show `done` of `total` seconds of video."""
        share = min(1.0, done / total) if total > 0 else 0.0
        filled = round(share * self.WIDTH)
        line = f"\r{self._label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:4.0%} {done:.1f}/{total:.1f} s"
        if line != self._shown:
            self._stream.write(line)
            self._stream.flush()
            self._shown = line

    def close(self) -> None:
        """End the bar's line."""
        if self._shown:
            self._stream.write("\n")
            self._stream.flush()


def cmd_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    log = EmotionLog(settings.db_url, settings.db_timeouts)
    try:
        rows = log.export_csv(args.session, args.csv)
    finally:
        log.close()
    print(f"{rows} observations of session {args.session} written to {args.csv}")
    return 0
