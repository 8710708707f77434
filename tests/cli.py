"""Running the real command line in a subprocess, from the project root."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PROJECT_ROOT


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m emotion_core ARGS...` with its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "emotion_core", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
