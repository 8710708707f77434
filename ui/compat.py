"""Workarounds for Streamlit, streamlit-webrtc, aiortc and aioice, each checked against the
version it was written for (see `emotion_core.compat.require_version`): an upgrade that changes
what they patch fails loudly at the first camera render instead of silently breaking START,
loopback streaming or the video's frame rate."""

from __future__ import annotations

import gc

import aioice.ice
import streamlit as st
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from streamlit import config as streamlit_config
from streamlit_webrtc import component as webrtc_component

from emotion_core.compat import require_version

AIOICE_VERSION = "0.13.0"
STREAMLIT_VERSION = "1.67.0"
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


def keep_collections_off_the_video() -> None:
    """Stop full garbage collections from freezing the video for a third of every second.

    Streamlit runs `gc.collect(2)` after every script run (`runner.postScriptGC`), and the Live
    page's figures rerun once a second. With pandas, Altair and aiortc loaded, one full collection
    holds the GIL for 100-330 ms, so the decoder, frame callback and encoder threads stall and the
    returned video repeats frames (measured with bench/e2e.py: content/camera ratio 0.41 with it,
    0.72 without, same run). `.streamlit/config.toml` turns the option off; this also covers a
    server started with another config. The objects alive now (imported modules, mostly) are moved
    out of the collector's sight once per process (`gc.freeze`), so Python's own, rarer full
    collections only walk what the app created since. Idempotent.
    """
    require_version("streamlit", STREAMLIT_VERSION, "runner.postScriptGC is set at run time")
    if streamlit_config.get_option("runner.postScriptGC"):
        streamlit_config.set_option("runner.postScriptGC", False)
    if not gc.get_freeze_count():
        gc.collect()
        gc.freeze()


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
