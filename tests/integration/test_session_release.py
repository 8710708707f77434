"""A browser session's state is released when it goes away: 20 connect/disconnect cycles of the
live page on a real server leave no active session, no extra thread and no memory growth behind.

Each cycle is a fresh browser session over Streamlit's own WebSocket protocol (what a browser tab
does); the server's `/_stcore/metrics` endpoint reports connections, disconnections and active
sessions, and psutil the server's threads and memory. (Streamlit's metrics show session state only
for active sessions, so a disconnected session's state is judged by the process's memory.)"""

from __future__ import annotations

import re
import time
import urllib.request

import psutil
import pytest

from tests.servers import app_server, run_page

pytestmark = pytest.mark.soak

CYCLES = 20
TTL_S = 1  # how long Streamlit keeps a disconnected session for a reconnect (default 120 s)
MAX_RSS_GROWTH_MB = 50.0


def metrics(base: str) -> str:
    with urllib.request.urlopen(f"{base}/_stcore/metrics", timeout=30) as response:
        return response.read().decode()


def gauge(text: str, line_start: str) -> int:
    return int(re.search(rf"^{re.escape(line_start)} (\d+)", text, re.M).group(1))


def released(base: str, timeout: float = 60.0) -> str:
    """Metrics once no session is active (or the last reading), plus the TTL for the state to go."""
    deadline = time.monotonic() + timeout
    while True:
        text = metrics(base)
        if gauge(text, "active_sessions") == 0 or time.monotonic() > deadline:
            time.sleep(TTL_S + 2.0)
            return text
        time.sleep(1.0)


def test_twenty_connect_disconnect_cycles_release_their_state(tmp_path):
    with app_server(tmp_path, "--server.disconnectedSessionTTL", str(TTL_S)) as (process, _port, base):
        server = psutil.Process(process.pid)
        run_page(base, "")  # the first session loads the models and caches (process-wide)
        after_first = released(base)
        assert gauge(after_first, "active_sessions") == 0
        threads_1, rss_1 = server.num_threads(), server.memory_info().rss / 2**20
        for _ in range(CYCLES - 1):
            messages = run_page(base, "")
            assert messages[-1].WhichOneof("type") == "script_finished"
        after_all = released(base)
        threads_n, rss_n = server.num_threads(), server.memory_info().rss / 2**20
        print(
            f"\nsession release: threads {threads_1} -> {threads_n}, RSS {rss_1:.0f} -> {rss_n:.0f} MB "
            f"after {CYCLES} cycles"
        )
        assert gauge(after_all, "active_sessions") == 0
        disconnects = 'session_events_total{type="disconnect"}'
        assert gauge(after_all, disconnects) - gauge(after_first, disconnects) == CYCLES - 1
        assert threads_n <= threads_1 + 2
        assert rss_n - rss_1 < MAX_RSS_GROWTH_MB
