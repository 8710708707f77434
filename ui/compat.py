"""Workarounds for streamlit-webrtc and aioice, each checked against the version it was written
for (see `emotion_core.compat.require_version`): an upgrade that changes what they patch fails
loudly at the first camera render instead of silently breaking START or loopback streaming."""

from __future__ import annotations

import aioice.ice
import streamlit as st
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from streamlit_webrtc import component as webrtc_component

from emotion_core.compat import require_version

AIOICE_VERSION = "0.13.0"
AIORTC_VERSION = "1.16.0"
STREAMLIT_WEBRTC_VERSION = "0.79.0"
LOOPBACK = "127.0.0.1"


def offer_loopback_candidates() -> None:
    """Make aiortc offer 127.0.0.1 as an ICE candidate when the host has no other address.

    aioice's `get_host_addresses()` always skips 127.0.0.1, so on a loopback-only machine (or
    network namespace) the server has no candidate at all and a browser on the same machine can
    never connect. Idempotent.
    """
    require_version("aioice", AIOICE_VERSION, "aioice.ice.get_host_addresses is wrapped")
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


def relay_newest_frames() -> None:
    """Make aiortc's `MediaRelay` hand each consumer only the newest frame. Idempotent.

    streamlit-webrtc relays the camera track to the frame callback and the callback's output to
    the encoder through `MediaRelay.subscribe(track)`, whose default keeps an unbounded queue per
    consumer. When the server falls behind the camera (a loaded machine), every frame waits its
    turn: the returned video lags further and further and memory grows by about 5 MB a second
    (measured with bench/e2e.py). Newest-frame relays drop what is already stale instead.
    """
    require_version("aiortc", AIORTC_VERSION, "MediaRelay.subscribe is called unbuffered")
    subscribe = MediaRelay.subscribe
    if getattr(subscribe, "newest_frames", False):
        return

    def newest_frame_subscribe(self: MediaRelay, track: MediaStreamTrack, buffered: bool = False) -> MediaStreamTrack:
        return subscribe(self, track, buffered=False)

    newest_frame_subscribe.newest_frames = True  # type: ignore[attr-defined]
    MediaRelay.subscribe = newest_frame_subscribe  # type: ignore[method-assign]


def prepare_context(key: str, returning: bool) -> None:
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
    require_version("streamlit-webrtc", STREAMLIT_WEBRTC_VERSION, "_last_rendered_run_count is cleared")
    context = st.session_state.get(key)
    if context is None:
        return
    if returning:
        webrtc_component._reset_context(context)
    context._last_rendered_run_count = None
