"""A real `streamlit run app.py` for tests: a free 127.0.0.1 port, stopped by its own PID, and its pages
run over Streamlit's own WebSocket protocol."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


NGINX_CONFIG = PROJECT_ROOT / "deploy" / "nginx.conf"


@dataclass
class Proxy:
    """A running nginx: its URL and its access log (one line per request, with the replica)."""

    url: str
    access_log: Path

    def upstreams(self) -> list[str]:
        """The replica (host:port) of every logged request, in order."""
        return re.findall(r"upstream=(\S+)", self.access_log.read_text())


@contextmanager
def nginx_proxy(backends: list[int], prefix: Path) -> Iterator[Proxy]:
    """Run Debian's nginx with deploy/nginx.conf in front of 127.0.0.1:`backends`, in folder `prefix`.

    The documented config is used as it is, with only its ports replaced; nginx is stopped afterwards.
    """
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise RuntimeError("nginx is not installed: install Debian's nginx (./run.sh test does)")
    text = NGINX_CONFIG.read_text()
    servers = "".join(f"        server 127.0.0.1:{port};\n" for port in backends)
    text = re.sub(r"(        server 127\.0\.0\.1:\d+;\n)+", servers, text)
    port = free_port()
    text = text.replace("listen 127.0.0.1:8080;", f"listen 127.0.0.1:{port};")
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(text)
    subprocess.run([nginx, "-p", f"{prefix}/", "-c", str(config), "-t", "-q"], check=True, capture_output=True)
    process = subprocess.Popen(
        [nginx, "-p", f"{prefix}/", "-c", str(config), "-g", "daemon off;"], stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else "nginx exited"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.1)
        yield Proxy(url, prefix / "access.log")
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
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
