"""Writing the analysed video with its overlays as an H.264 MP4 (PyAV)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from .errors import VideoError

TIME_BASE = Fraction(1, 1000)
"""Frame times are written in milliseconds, so a video with a variable frame rate keeps its timing."""


class AnnotatedVideo:
    """An MP4 file (H.264, yuv420p) that frames are appended to in time order."""

    def __init__(self, path: str | Path, width: int, height: int, fps: float) -> None:
        self.path = Path(path)
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4")
        except (OSError, av.FFmpegError) as exc:
            raise VideoError(f"{self.path}: cannot write the annotated video ({exc})") from None
        self._stream = self._container.add_stream("libx264", rate=Fraction(round(fps * 1000), 1000) if fps > 0 else 30)
        # H.264 in 4:2:0 needs even dimensions: the last row or column of an odd-sized video is dropped.
        self._width, self._height = width - width % 2, height - height % 2
        self._stream.width, self._stream.height = self._width, self._height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = TIME_BASE
        self._stream.codec_context.time_base = TIME_BASE
        self._last_pts = -1

    def write(self, bgr: np.ndarray, timestamp: float) -> None:
        """Append a BGR frame shown at `timestamp` seconds (a frame not later than the last is skipped)."""
        pts = round(timestamp / TIME_BASE)
        if pts <= self._last_pts:
            return
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[: self._height, : self._width]), format="bgr24")
        frame.pts, frame.time_base = pts, TIME_BASE
        self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        try:
            self._container.mux(self._stream.encode(None))
        finally:
            self._container.close()

    def __enter__(self) -> AnnotatedVideo:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:  # an unfinished file is of no use
            self._container.close()
            self.path.unlink(missing_ok=True)
