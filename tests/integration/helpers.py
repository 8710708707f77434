"""Helpers shared by the integration tests: the command line in a fresh process, its bad-input
contract, and its reference in docs/user-guide.md."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.data import PROJECT_ROOT


def cli(*args: object, faces: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh process; `faces` is passed as --faces."""
    command = [sys.executable, "-m", "emotion_core"]
    if faces is not None:
        command += ["--faces", str(faces)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_")}
    # `forget` also deletes emotion records: never let a test touch the project's own database.
    environment["EMOTION_DB_URL"] = f"sqlite:///{tempfile.mkdtemp(prefix='cli-db-')}/emotions.db"
    environment.update(env or {})
    return subprocess.run(
        command + [str(a) for a in args], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=600
    )


def assert_bad_input(done: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, nothing on stdout, exactly one stderr line without a traceback."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def undocumented(keys: object) -> list[str]:
    """The JSON keys among `keys` that the user guide's command-line reference never quotes."""
    guide = (PROJECT_ROOT / "docs" / "user-guide.md").read_text(encoding="utf-8")
    reference = guide.split("## Command-line reference", 1)[1]
    return [key for key in map(str, keys) if f'"{key}"' not in reference]
