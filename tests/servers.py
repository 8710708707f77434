"""A real `streamlit run app.py` for tests: a free 127.0.0.1 port, stopped by its own PID."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PROJECT_ROOT

STARTUP_TIMEOUT_S = 90


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


def upload_without_xsrf_token(base: str) -> urllib.error.HTTPError:
    """The server's refusal of a file upload that carries no XSRF token (fails if it is accepted)."""
    request = urllib.request.Request(
        f"{base}/_stcore/upload_file/some-session/some-file",
        method="PUT",
        data=b"--x\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as refused:
        return refused
    raise AssertionError("an upload without an XSRF token was accepted")
