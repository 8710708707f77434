"""A real `streamlit run app.py` for tests: a free 127.0.0.1 port, stopped by its own PID, and its pages
run over Streamlit's own WebSocket protocol."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

from tests.data import PROJECT_ROOT

STARTUP_TIMEOUT_S = 90
RUN_TIMEOUT_S = 180


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(env: dict, log_path: Path, *options: str) -> Iterator[tuple[subprocess.Popen, int, str]]:
    """Run the app with `env` and extra command-line `options`, logging to `log_path`.

    Yields (process, port, base URL) once `/_stcore/health` answers; always stops the process.
    """
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), *options],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"server not healthy in time:\n{log_path.read_text()}"
            time.sleep(0.5)
        yield process, port, base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def clean_env(tmp_path: Path, **extra: str) -> dict:
    """No STREAMLIT_* overrides and an empty home, so only the project's config file counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STREAMLIT_", "EMOTION_"))}
    env.update(HOME=str(tmp_path), **extra)
    return env


@contextmanager
def app_server(tmp_path: Path, *options: str) -> Iterator[tuple[subprocess.Popen, int, str]]:
    """`streamlit run app.py` with only the project's config (no address on the command line) plus
    `options`, a temporary registry and database; yields (process, port, base URL) once healthy."""
    env = clean_env(
        tmp_path, EMOTION_FACES=str(tmp_path / "faces.pkl"), EMOTION_DB_URL=f"sqlite:///{tmp_path / 'emotions.db'}"
    )
    with streamlit_server(env, tmp_path / "streamlit.log", *options) as running:
        yield running


def run_page(base: str, page_name: str) -> list[ForwardMsg]:
    """Run one page in a fresh browser session over the WebSocket; return the messages until it finished."""
    rerun = BackMsg()
    rerun.rerun_script.page_name = page_name
    rerun.rerun_script.query_string = ""
    messages: list[ForwardMsg] = []
    url = base.replace("http://", "ws://") + "/_stcore/stream"
    with connect(url, subprotocols=["streamlit"], max_size=None, open_timeout=30) as ws:
        ws.send(rerun.SerializeToString())
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            message = ForwardMsg()
            message.ParseFromString(ws.recv(timeout=RUN_TIMEOUT_S))
            messages.append(message)
            if message.WhichOneof("type") == "script_finished":
                return messages
    raise AssertionError(f"page {page_name!r} did not finish")
