"""The camera: the streamlit-webrtc component, its frame callback and two WebRTC workarounds."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import aioice.ice
import av
import streamlit as st
from streamlit_webrtc import WebRtcMode, WebRtcStreamerContext, webrtc_streamer
from streamlit_webrtc import component as webrtc_component

from emotion_core.analyzer import FrameAnalyzer
from emotion_core.config import Settings
from emotion_core.live import LiveSession

LOGGER = logging.getLogger(__name__)

CAMERA_KEY = "camera"
LOOPBACK = "127.0.0.1"
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
                LOGGER.exception("frame analysis failed (%d so far); frame passed through", failures + 1)
            failures += 1
            return frame
        out = av.VideoFrame.from_ndarray(drawn, format="bgr24")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out

    return callback


def offer_loopback_candidates() -> None:
    """Make aiortc offer 127.0.0.1 as an ICE candidate when the host has no other address.

    aioice's `get_host_addresses()` always skips 127.0.0.1, so on a loopback-only machine (or
    network namespace) the server has no candidate at all and a browser on the same machine can
    never connect. Idempotent.
    """
    original = aioice.ice.get_host_addresses
    if getattr(original, "offers_loopback", False):
        return

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        addresses = original(use_ipv4, use_ipv6)
        if use_ipv4 and not addresses:
            addresses.append(LOOPBACK)
        return addresses

    get_host_addresses.offers_loopback = True  # type: ignore[attr-defined]
    aioice.ice.get_host_addresses = get_host_addresses


def _prepare_context(key: str, returning: bool) -> None:
    """Neutralise streamlit-webrtc 0.79.0's orphaned-context check, keeping its purpose.

    `_get_or_create_context` resets the context (stopping the worker) when the session's
    `script_run_count` exceeds the count at the last render by more than one. Streamlit
    increments that count on the event-loop thread when a run's "finished" message is sent, which
    can lag behind the script thread: during the burst of reruns around START one run may stamp a
    stale (low) count and the next read the current one, so the check fires although the
    component was rendered in every run, and the freshly connected stream dies right after ICE
    completes (6 of 21 STARTs in ../shared/README.md's measurements).

    The check exists for one case: the user left this page and came back, so the frontend
    remounted with fresh state. We know that case exactly (`returning`, from our own page
    bookkeeping) and reset then with the library's own `_reset_context`; otherwise clearing
    `_last_rendered_run_count` skips the racy comparison (the library stamps it again during the
    call). The check's other use, several webrtc components on one page, does not arise: each
    page has at most one.
    """
    context = st.session_state.get(key)
    if context is None:
        return
    if returning:
        webrtc_component._reset_context(context)
    context._last_rendered_run_count = None


def camera(config: Settings, callback: FrameCallback, *, returning: bool) -> WebRtcStreamerContext:
    """Render the camera component (send camera, receive annotated video).

    `returning` is True when this browser session ran another page since the last run of this one.
    """
    offer_loopback_candidates()
    _prepare_context(CAMERA_KEY, returning)
    return webrtc_streamer(
        key=CAMERA_KEY,
        mode=WebRtcMode.SENDRECV,
        # An explicit list, even empty: with None streamlit-webrtc fills in a public STUN server.
        rtc_configuration={"iceServers": [dict(server) for server in config.ice_servers]},
        media_stream_constraints={"video": True, "audio": False},
        video_frame_callback=callback,
        async_processing=True,
    )
