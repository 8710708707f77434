"""A video analysis running in a background thread, owned by one browser session.

The page starts a `VideoJob`, polls its progress from a timed fragment and may cancel it. The
uploaded file is written to a private temporary folder and deleted as soon as the analysis ends;
the annotated video, if asked for, stays there until the job is dropped.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from emotion_core.config import Settings
from emotion_core.emotions import EmotionModel
from emotion_core.errors import CancelledError, EmotionCoreError
from emotion_core.registry import Registry
from emotion_core.replay import VideoReport, analyze_video
from emotion_core.store import EmotionLog
from emotion_core.video import open_video

logger = logging.getLogger(__name__)

VIDEO_TYPES = ("mp4", "webm", "mov", "gif")
ANNOTATED_NAME = "annotated.mp4"


@dataclass
class VideoJob:
    """One uploaded video being (or having been) analysed."""

    name: str  # the uploaded file's name, logged as the session's source
    folder: Path
    annotate: bool
    cancel: threading.Event = field(default_factory=threading.Event)
    done_s: float = 0.0
    total_s: float = 0.0
    started: float = field(default_factory=time.monotonic)
    report: VideoReport | None = None
    error: str | None = None
    cancelled: bool = False
    thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    @property
    def share(self) -> float:
        """Part of the video analysed so far (0…1)."""
        return min(1.0, self.done_s / self.total_s) if self.total_s > 0 else 0.0

    @property
    def annotated(self) -> Path | None:
        """The annotated MP4 once written."""
        path = self.folder / ANNOTATED_NAME
        return path if self.annotate and self.report is not None and path.is_file() else None

    def _progress(self, done: float, total: float) -> None:
        self.done_s, self.total_s = done, total


def check_upload(name: str, size: int, limit_mb: int) -> str | None:
    """Why an upload is refused before it is opened, or None."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in VIDEO_TYPES:
        return f"{name}: unsupported file type (upload {', '.join(VIDEO_TYPES)})"
    if size > limit_mb * 1024 * 1024:
        return f"{name}: {size / 1024 / 1024:.1f} MB is over the upload limit of {limit_mb} MB"
    if size == 0:
        return f"{name}: the file is empty"
    return None


def start_job(
    name: str,
    data: bytes,
    *,
    annotate: bool,
    registry: Registry,
    model: EmotionModel | None,
    settings: Settings,
    log: EmotionLog,
) -> VideoJob:
    """Write the upload to a temporary file, check it opens as a video, and start analysing it.

    Raises `VideoError` (and keeps nothing) if the file is not a readable video.
    """
    folder = Path(tempfile.mkdtemp(prefix="emotion-video-"))
    path = folder / f"upload{Path(name).suffix.lower()}"
    try:
        path.write_bytes(data)
        capture, _ = open_video(path)
        capture.release()
    except (OSError, EmotionCoreError):
        shutil.rmtree(folder, ignore_errors=True)
        raise
    job = VideoJob(Path(name).name, folder, annotate)
    # The temporary folder goes when the browser session drops the job; a running analysis stops.
    weakref.finalize(job, _drop, job.cancel, folder)

    def run() -> None:
        try:
            job.report = analyze_video(
                path,
                registry,
                model,
                settings,
                log=log,
                progress=job._progress,
                cancel=job.cancel,
                source=job.name,
                annotated=folder / ANNOTATED_NAME if annotate else None,
            )
        except CancelledError:
            job.cancelled = True
        except EmotionCoreError as exc:
            job.error = str(exc).replace(str(path), job.name)
        except Exception as exc:  # shown as one line; the session was deleted by analyze_video
            logger.exception("video analysis failed")
            job.error = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            path.unlink(missing_ok=True)

    job.thread = threading.Thread(target=run, name=f"video-{job.name}", daemon=True)
    job.thread.start()
    return job


def _drop(cancel: threading.Event, folder: Path) -> None:
    cancel.set()
    shutil.rmtree(folder, ignore_errors=True)
