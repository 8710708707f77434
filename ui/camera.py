"""The camera: the streamlit-webrtc component and its frame callback."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import av
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import Settings
from emotion_core.live import LiveSession
from ui.compat import offer_loopback_candidates, prepare_context

logger = logging.getLogger(__name__)

CAMERA_KEY = "camera"
LOG_EVERY = 100
"""A frame error is logged once, then every LOG_EVERY-th time (the callback runs up to 30 times a second)."""

FrameCallback = Callable[[av.VideoFrame], av.VideoFrame]


def make_frame_callback(analyzer: FrameAnalyzer, session: LiveSession) -> FrameCallback:
    """The WebRTC frame callback: analyze, count, return the frame with overlays.

    Runs in streamlit-webrtc's worker thread: it touches only `analyzer` and `session`, never
    `st.*`. With async processing, frames that arrive while one is analysed are dropped and only
    the newest is passed here.
    """
    failures = 0

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        nonlocal failures
        bgr = frame.to_ndarray(format="bgr24")
        now = time.time()
        try:
            faces = analyzer.analyze(bgr, now)
            session.observe(faces, now)
            if not faces:
                return frame  # nothing to draw: skip the copy and re-encode of an unchanged frame
            drawn = analyzer.draw(bgr, faces)
        except Exception:  # streamlit-webrtc ends the whole stream when the callback raises
            if failures % LOG_EVERY == 0:
                logger.exception("frame analysis failed (%d so far); frame passed through", failures + 1)
            failures += 1
            return frame
        out = av.VideoFrame.from_ndarray(drawn, format="bgr24")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out

    return callback


def camera(config: Settings, callback: FrameCallback, *, returning: bool) -> WebRtcStreamerContext:
    """Render the camera component (send camera, receive annotated video).

    `returning` is True when this browser session ran another page since the last run of this one.
    """
    offer_loopback_candidates()
    prepare_context(CAMERA_KEY, returning)
    return webrtc_streamer(
        key=CAMERA_KEY,
        mode=WebRtcMode.SENDRECV,
        # An explicit list, even empty: with None streamlit-webrtc fills in a public STUN server.
        rtc_configuration={"iceServers": [dict(server) for server in config.ice_servers]},
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=callback,
        async_processing=True,
    )
