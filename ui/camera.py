"""The camera: the streamlit-webrtc component and its frame callback."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import av
import cv2
import numpy as np
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer

from emotion_core.config import Settings
from emotion_core.overlay import draw_faces
from emotion_core.stream import LiveStream
from ui.compat import keep_collections_off_the_video, offer_loopback_candidates, prepare_context, relay_newest_frames

logger = logging.getLogger(__name__)

CAMERA_KEY = "camera"
LOG_EVERY = 100
"""A frame error is logged once, then every LOG_EVERY-th time (the callback runs up to 30 times a second)."""

FrameCallback = Callable[[av.VideoFrame], av.VideoFrame]


def make_frame_callback(stream: LiveStream) -> FrameCallback:
    """The WebRTC frame callback: offer the frame to the analysis, draw the latest faces, return.

    Runs in streamlit-webrtc's worker thread for every camera frame and never waits for analysis
    (that runs in another process, see `emotion_core.worker`): it touches only `stream`.
    """
    failures = 0

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        nonlocal failures
        now = time.time()
        stream.note_frame()
        try:
            faces = stream.overlay(now)
            if not faces and not stream.analysis_idle():
                return frame  # nothing to draw or to analyse: no conversion, no new frame
            bgr = frame.to_ndarray(format="bgr24")
            stream.submit(bgr, now)
            if not faces:
                return frame
            draw_faces(bgr, faces, stream.analysed_stamp())
        except Exception:  # streamlit-webrtc ends the whole stream when the callback raises
            if failures % LOG_EVERY == 0:
                logger.exception("frame handling failed (%d so far); frame passed through", failures + 1)
            failures += 1
            return frame
        out = _to_video_frame(bgr)
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out

    return callback


def _to_video_frame(bgr: np.ndarray) -> av.VideoFrame:
    """A frame in the encoder's own format: OpenCV converts to I420 about twice as fast as the
    encoder's conversion of a BGR frame, on every frame with faces."""
    height, width = bgr.shape[:2]
    if height % 2 or width % 2:
        return av.VideoFrame.from_ndarray(bgr, format="bgr24")
    yuv = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


def camera(settings: Settings, stream: LiveStream, *, returning: bool) -> WebRtcStreamerContext:
    """Render the camera component (send camera, receive annotated video).

    `returning` is True when this browser session ran another page since the last run of this one.
    """
    offer_loopback_candidates()
    relay_newest_frames()
    keep_collections_off_the_video()
    prepare_context(CAMERA_KEY, returning)
    context = webrtc_streamer(
        key=CAMERA_KEY,
        mode=WebRtcMode.SENDRECV,
        # An explicit list, even empty: with None streamlit-webrtc fills in a public STUN server.
        rtc_configuration={"iceServers": [dict(server) for server in settings.ice_servers]},
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=make_frame_callback(stream),
        on_video_ended=stream.stop,
        async_processing=True,
    )
    if context.state.signalling and not context.state.playing:
        stream.prepare()  # START was pressed: load the analysis while the connection is set up
    return context
