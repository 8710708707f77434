"""The pieces the browser tests and bench/e2e.py share: fake-camera videos, a real
`streamlit run app.py` server and Debian's Chromium with a fake camera.

Nothing here depends on pytest.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from playwright.sync_api import Browser, Playwright

from tests.data import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
WIDTH, HEIGHT = 640, 480
SERVER_START_TIMEOUT_S = 90

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def only_loopback() -> bool:
    """True inside a loopback-only network namespace (tests/e2e/run, bench/e2e.py)."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


# ---------------------------------------------------------------- fake camera videos


def letterbox(rgb: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """`rgb` scaled to fit width x height, centred on black."""
    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    frame = np.zeros((height, width, 3), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    frame[top : top + size[1], left : left + size[0]] = small
    return frame


def write_y4m(path: Path, scenes: Iterable[tuple[np.ndarray, int]], fps: int) -> Path:
    """Write a 4:2:0 Y4M video of `scenes`, each an (RGB frame, number of frames) pair, all one size."""
    with open(path, "wb") as out:
        for index, (rgb, count) in enumerate(scenes):
            if index == 0:
                height, width = rgb.shape[:2]
                out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
            planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes()
            for _ in range(count):
                out.write(b"FRAME\n")
                out.write(planes)
    return path


# ---------------------------------------------------------------- the app server


@dataclass
class AppServer:
    """A running `streamlit run app.py` with its own registry and database."""

    url: str
    faces_path: Path
    db_path: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_server(
    folder: Path, env: Mapping[str, str] | None = None, *, port: int | None = None, options: Iterable[str] = ()
) -> AppServer:
    """Start the app on `port` (default: a free one) of 127.0.0.1 with the registry and database in `folder`.

    `env` adds to (or overrides) the environment and `options` to the `streamlit run` command line;
    raises RuntimeError if it does not come up.
    """
    port = port or free_port()
    faces_path, db_path, log_path = folder / "faces.pkl", folder / "emotions.db", folder / "streamlit.log"
    environment = {
        **os.environ,
        "EMOTION_FACES": str(faces_path),
        "EMOTION_DB_URL": f"sqlite:///{db_path}",
        "EMOTION_MODEL": os.environ.get("EMOTION_MODEL", "faceapi"),
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                *options,
            ],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = AppServer(f"http://127.0.0.1:{port}", faces_path, db_path, log_path, process)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not _healthy(server.url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server, "failed-start")
            raise RuntimeError(f"streamlit did not become healthy:\n{server.log_text()[-3000:]}")
        time.sleep(0.25)
    return server


def stop_server(server: AppServer, name: str, artifacts: Path = ARTIFACTS) -> None:
    """Stop the server process (only it) and keep its log as `artifacts`/streamlit-`name`.log."""
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=15)
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(server.log_path, artifacts / f"streamlit-{name}.log")


# ---------------------------------------------------------------- browsers


def launch_chromium(driver: Playwright, video: Path) -> Browser:
    """A headless Chromium whose fake camera plays the Y4M `video`."""
    return driver.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={video}"],
    )
