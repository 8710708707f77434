"""Benchmark: our live pipeline against the naive one on the same video frames.

The naive pipeline is what the original design and most tutorials do on every frame: HOG with
upsample=1 on the full frame, one 128-d encoding per face and one emotion inference per face.
Ours is `FrameAnalyzer.analyze`, fed every frame with the video's timestamps as the webcam would.
Both are timed in the same process on the same decoded frames (decoding is not timed), and
scored against the known identities.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import recognition
from ..analyzer import FrameAnalyzer
from ..boxes import Box, iou
from ..config import Settings
from ..detectors import HogDetector
from ..emotions import EmotionModel
from ..errors import VideoError
from ..labels import is_stranger
from ..recognition import Matcher, encode_faces
from ..registry import Registry
from ..video import VideoFrame, read_frames

MATCH_IOU = 0.3
"""A detected box and a ground-truth box are the same face when their IoU is at least this."""

Named = tuple[str, Box]
"""A face as (name, box)."""


@dataclass(frozen=True)
class Truth:
    """Known identities: per-frame boxes and names, or one name that every face has (until `until_s`)."""

    frames: tuple[tuple[Named, ...], ...] | None = None
    name: str | None = None
    until_s: float | None = None


def _box(values: Sequence[float]) -> Box:
    top, right, bottom, left = (int(v) for v in values)
    return top, right, bottom, left


def load_truth(path: str | Path) -> Truth:
    """Read a ground-truth JSON: {"frames": [[{"name", "box"}, ...], ...]} or {"name": str, "until_s": s}."""
    try:
        document = json.loads(Path(path).read_text())
        if "frames" in document:
            return Truth(
                frames=tuple(tuple((face["name"], _box(face["box"])) for face in frame) for frame in document["frames"])
            )
        until = document.get("until_s")
        return Truth(name=str(document["name"]), until_s=None if until is None else float(until))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VideoError(f"{path}: not a ground-truth file ({exc})") from None


def load_frames(path: str | Path, limit: int | None = None) -> list[VideoFrame]:
    """Decode the first `limit` frames of a video (all when None) into memory."""
    return list(itertools.islice(read_frames(path), limit))


class StageClock:
    """Accumulates wall time per named stage, from any thread."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the enclosed block as stage `name`."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            with self._lock:
                self.totals[name] = self.totals.get(name, 0.0) + elapsed

    def wrap(self, function: Callable[..., Any], name: str) -> Callable[..., Any]:
        """`function`, timed as stage `name` on every call."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(name):
                return function(*args, **kwargs)

        return timed

    @contextmanager
    def instrument(self, targets: Sequence[tuple[object, str, str]]) -> Iterator[None]:
        """Time calls to `owner.attribute` as `stage` for each (owner, attribute, stage), then restore.

        A module-level function is replaced in every `emotion_core` module that imported it.
        """
        patched: list[tuple[object, str, object]] = []
        try:
            for owner, attribute, stage in targets:
                original = getattr(owner, attribute)
                timed = self.wrap(original, stage)
                owners = [owner]
                if isinstance(owner, types.ModuleType):
                    owners = [
                        m
                        for n, m in list(sys.modules.items())
                        if n.split(".")[0] == "emotion_core" and getattr(m, attribute, None) is original
                    ]
                for target in owners:
                    patched.append((target, attribute, original))
                    setattr(target, attribute, timed)
            yield
        finally:
            for target, attribute, original in reversed(patched):
                if isinstance(target, types.ModuleType):
                    setattr(target, attribute, original)
                else:
                    delattr(target, attribute)  # the instance attribute shadowed the class method


@dataclass
class PipelineRun:
    """Timings and outputs of one pipeline over the frames."""

    pipeline: str
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the whole process (all threads) over the loop
    latencies_ms: list[float] = field(default_factory=list)
    stages_s: dict[str, float] = field(default_factory=dict)
    faces: list[tuple[Named, ...]] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return len(self.latencies_ms)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        """CPU milliseconds per frame: less sensitive than fps to other programs on the machine."""
        return 1000.0 * self.cpu_seconds / self.frames if self.frames else 0.0

    def latency_ms(self, percentile: float) -> float:
        return float(np.percentile(self.latencies_ms, percentile)) if self.latencies_ms else 0.0

    def stage_ms_per_frame(self) -> dict[str, float]:
        """Mean milliseconds per frame in each stage, plus "other" (the rest of the wall time)."""
        if not self.frames:
            return {}
        stages = {name: 1000.0 * total / self.frames for name, total in self.stages_s.items()}
        stages["other"] = max(0.0, 1000.0 * self.seconds / self.frames - sum(stages.values()))
        return stages


@dataclass(frozen=True)
class IdentityScore:
    """How well a pipeline named the faces: accuracy over the known faces, and wrong names given."""

    correct: int
    total: int
    wrong: int

    @property
    def accuracy(self) -> float | None:
        """None when there was nothing to score (no known face, or no detection to name)."""
        return self.correct / self.total if self.total else None


def score_identities(truth: Truth, frames: Sequence[VideoFrame], faces: Sequence[Sequence[Named]]) -> IdentityScore:
    """Score the detections of each frame against `truth`.

    With per-frame boxes: accuracy = known faces found and correctly named / known faces; a wrong
    name is a detection named as an enrolled person other than the face it covers (or covering no
    known face). With one name: accuracy = detections with that name / detections in the frames
    before `until_s`; a wrong name is a detection named as anyone else.
    """
    correct = total = wrong = 0
    if truth.name is not None:
        for frame, found in zip(frames, faces):
            if truth.until_s is not None and frame.timestamp >= truth.until_s:
                continue
            for name, _ in found:
                total += 1
                correct += name == truth.name
                wrong += name != truth.name and not is_stranger(name)
        return IdentityScore(correct, total, wrong)
    assert truth.frames is not None
    for frame, found in zip(frames, faces):
        known = truth.frames[frame.index] if frame.index < len(truth.frames) else ()
        total += len(known)
        free = list(found)
        for true_name, true_box in known:
            best = max(free, key=lambda face: iou(face[1], true_box), default=None)
            if best is None or iou(best[1], true_box) < MATCH_IOU:
                continue
            free.remove(best)
            if best[0] == true_name:
                correct += 1
            elif not is_stranger(best[0]):
                wrong += 1
        wrong += sum(1 for name, _ in free if not is_stranger(name))
    return IdentityScore(correct, total, wrong)


def run_naive(
    frames: Sequence[VideoFrame], registry: Registry, model: EmotionModel | None, tolerance: float
) -> PipelineRun:
    """The naive pipeline on every frame: full-frame HOG (upsample=1), encode and classify each face."""
    matcher = Matcher(registry, tolerance)
    detector = HogDetector(upsample=1, max_side=None)
    clock = StageClock()
    run = PipelineRun("naive")

    def process(bgr: np.ndarray) -> tuple[Named, ...]:
        with clock.stage("convert"):
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        with clock.stage("detect"):
            boxes = [face.box for face in detector.detect(rgb)]
        named = []
        for box in boxes:
            with clock.stage("encode"):
                encoding = encode_faces(rgb, [box], detector=detector)[0]
            with clock.stage("match"):
                name, _ = matcher.match(encoding)
            if model is not None:
                with clock.stage("emotion"):
                    model.predict(rgb, [box])
            named.append((name, box))
        return tuple(named)

    process(frames[0].bgr)  # warm-up, not timed
    clock.totals.clear()
    run.faces, run.seconds, run.cpu_seconds = _timed_loop([frame.bgr for frame in frames], process, run.latencies_ms)
    run.stages_s = dict(clock.totals)
    return run


def run_ours(
    frames: Sequence[VideoFrame], registry: Registry, model: EmotionModel | None, settings: Settings
) -> PipelineRun:
    """Our pipeline: a fresh `FrameAnalyzer` fed every frame with the video's timestamps."""
    FrameAnalyzer(registry, model, settings).analyze(frames[0].bgr, 0.0)  # warm-up on a separate instance
    analyzer = FrameAnalyzer(registry, model, settings)
    clock = StageClock()
    targets: list[tuple[object, str, str]] = [
        (analyzer.detector, "detect", "detect"),
        (recognition, "encode_faces", "encode"),
    ]
    if model is not None:
        targets.append((model, "predict", "emotion"))
    run = PipelineRun("ours")

    def process(frame: VideoFrame) -> tuple[Named, ...]:
        return tuple((face.name, face.box) for face in analyzer.analyze(frame.bgr, frame.timestamp))

    with clock.instrument(targets):
        run.faces, run.seconds, run.cpu_seconds = _timed_loop(frames, process, run.latencies_ms)
    run.stages_s = dict(clock.totals)
    return run


def _timed_loop(
    frames: Sequence, process: Callable[..., tuple[Named, ...]], latencies_ms: list[float]
) -> tuple[list[tuple[Named, ...]], float, float]:
    """Process every frame; return the outputs, the wall time and the process CPU time."""
    outputs = []
    cpu, start = time.process_time(), time.perf_counter()
    for frame in frames:
        before = time.perf_counter()
        outputs.append(process(frame))
        latencies_ms.append(1000.0 * (time.perf_counter() - before))
    return outputs, time.perf_counter() - start, time.process_time() - cpu


@dataclass(frozen=True)
class BenchmarkResult:
    """Both pipelines on the same frames, with identity scores when the truth is known."""

    ours: PipelineRun
    naive: PipelineRun | None
    ours_identity: IdentityScore | None
    naive_identity: IdentityScore | None

    def summary(self) -> dict:
        """The headline figures: frames, fps, baseline_fps, speedup, latency p50/p95, identity accuracy."""
        baseline_fps = self.naive.fps if self.naive else None
        return {
            "frames": self.ours.frames,
            "fps": round(self.ours.fps, 2),
            "baseline_fps": None if baseline_fps is None else round(baseline_fps, 2),
            "speedup": round(self.ours.fps / baseline_fps, 2) if baseline_fps else None,
            "latency_ms_p50": round(self.ours.latency_ms(50), 2),
            "latency_ms_p95": round(self.ours.latency_ms(95), 2),
            "identity_accuracy": _rounded(self.ours_identity),
            "baseline_identity_accuracy": _rounded(self.naive_identity),
        }


def _rounded(score: IdentityScore | None) -> float | None:
    return None if score is None or score.accuracy is None else round(score.accuracy, 4)


def run_benchmark(
    frames: Sequence[VideoFrame],
    registry: Registry,
    model: EmotionModel | None,
    settings: Settings,
    truth: Truth | None = None,
    baseline: bool = True,
) -> BenchmarkResult:
    """Run our pipeline and (unless `baseline` is False) the naive one on `frames`, and score them."""
    ours = run_ours(frames, registry, model, settings)
    naive = run_naive(frames, registry, model, settings.tolerance) if baseline else None

    def score(run: PipelineRun | None) -> IdentityScore | None:
        return None if truth is None or run is None else score_identities(truth, frames, run.faces)

    return BenchmarkResult(ours, naive, score(ours), score(naive))


@dataclass(frozen=True)
class MemoryResult:
    """Resident memory over a long looped run of our pipeline."""

    seconds: float
    frames: int
    rss_start_mb: float
    rss_end_mb: float
    rss_max_mb: float
    samples: tuple[tuple[float, float], ...]  # (elapsed s, RSS MB)

    @property
    def growth_mb(self) -> float:
        return self.rss_end_mb - self.rss_start_mb


def soak(
    frames: Sequence[VideoFrame],
    registry: Registry,
    model: EmotionModel | None,
    settings: Settings,
    seconds: float,
    sample_every: float = 10.0,
    progress: Callable[[float, float], None] | None = None,
) -> MemoryResult:
    """Loop the frames through one `FrameAnalyzer` for `seconds` (continuous timestamps) and track RSS.

    The start figure is taken after one full pass, once models and buffers are warm.
    """
    import psutil

    process = psutil.Process()
    analyzer = FrameAnalyzer(registry, model, settings)
    mb = lambda: process.memory_info().rss / 2**20  # noqa: E731
    count = 0
    period = frames[-1].timestamp + (frames[-1].timestamp - frames[0].timestamp) / max(len(frames) - 1, 1)
    for frame in frames:
        analyzer.analyze(frame.bgr, frame.timestamp)
        count += 1
    start_rss = mb()
    samples = [(0.0, start_rss)]
    start = time.perf_counter()
    next_sample = sample_every
    while (elapsed := time.perf_counter() - start) < seconds:
        loop, index = divmod(count, len(frames))
        analyzer.analyze(frames[index].bgr, loop * period + frames[index].timestamp)
        count += 1
        if elapsed >= next_sample:
            samples.append((elapsed, mb()))
            next_sample += sample_every
            if progress:
                progress(elapsed, samples[-1][1])
    samples.append((time.perf_counter() - start, mb()))
    return MemoryResult(
        seconds=samples[-1][0],
        frames=count - len(frames),
        rss_start_mb=start_rss,
        rss_end_mb=samples[-1][1],
        rss_max_mb=max(rss for _, rss in samples),
        samples=tuple(samples),
    )
