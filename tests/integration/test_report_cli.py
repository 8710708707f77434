"""`analyze --db` then `report` through the real CLI: a short cut of the hamilton clip, the faceapi
model, Lin-Manuel Miranda enrolled; the HTML must be self-contained, the PDF a PDF."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from emotion_core.recognition import enroll
from tests.clips import short_clip
from tests.data import PROJECT_ROOT, photos
from tests.integration.helpers import cli

pytestmark = pytest.mark.requires_data

MIRANDA = "Lin-Manuel Miranda"
CLIP_S = 4.0  # Miranda is on stage for the first 7 s


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("report")
    faces = folder / "faces.pkl"
    enroll(faces, MIRANDA, photos("lin_manuel_miranda"), tolerance=0.55)
    db = folder / "emotions.db"
    env = {**os.environ, "EMOTION_DB_URL": f"sqlite:///{db}", "EMOTION_MODEL": "faceapi"}
    clip = short_clip(folder / "clip.mp4", CLIP_S)
    done = cli("--faces", str(faces), "analyze", str(clip), "--db", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # --json: no progress bar
    result = json.loads(done.stdout)
    return {"folder": folder, "faces": faces, "db": db, "env": env, "clip": clip, "result": result}


def stored_final(db: Path, session: int) -> dict:
    with sqlite3.connect(db) as conn:
        settings, final = conn.execute("SELECT settings, final FROM sessions WHERE id = ?", (session,)).fetchone()
    return {"settings": json.loads(settings), "final": json.loads(final)}


class Links(HTMLParser):
    """Every src and href value of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "xlink:href", "srcset")]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_analyze_stores_the_session_with_the_file_as_its_source(workspace):
    session = workspace["result"]["session"]
    stored = stored_final(workspace["db"], session)
    assert stored["settings"]["source"] == {"kind": "video", "name": "clip.mp4"}
    assert set(stored["final"]["people"]) == set(workspace["result"]["people"])
    assert MIRANDA in stored["final"]["people"]


def test_html_report_is_self_contained_and_names_everyone_with_their_score(workspace, tmp_path):
    session = workspace["result"]["session"]
    out = tmp_path / "report.html"
    done = cli("report", str(session), "--format", "html", "--out", str(out), env=workspace["env"])
    assert done.returncode == 0, done.stderr
    page = Links()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.urls, "the report has links and embedded charts"
    for url in page.urls:
        assert url.startswith(("#", "data:")), url
        assert not url.startswith(("http:", "https:", "//")), url
    assert sum(url.startswith("data:image/svg+xml;base64,") for url in page.urls) == 3  # counts, score, timeline
    text = " ".join("".join(page.text).split())
    for name, stats in stored_final(workspace["db"], session)["final"]["people"].items():
        assert f"{name}: {stats['score']:.1f}" in text
    assert "video clip.mp4" in text and "faceapi" in text
    assert "Article 5(1)(f)" in text  # the privacy notice


def test_pdf_report_is_a_pdf(workspace, tmp_path):
    out = tmp_path / "report.pdf"
    done = cli(
        "report", str(workspace["result"]["session"]), "--format", "pdf", "--out", str(out), env=workspace["env"]
    )
    assert done.returncode == 0, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Subtype /Image") >= 3


def test_unknown_session_is_one_line_and_exit_2(workspace, tmp_path):
    out = tmp_path / "none.html"
    done = cli("report", "999", "--format", "html", "--out", str(out), env=workspace["env"])
    assert done.returncode == 2
    assert done.stderr.strip() == "error: no session 999 in the emotion log"
    assert not out.exists()


def test_report_on_a_missing_database_creates_nothing(tmp_path):
    db = tmp_path / "nothing.db"
    env = {**os.environ, "EMOTION_DB_URL": f"sqlite:///{db}"}
    done = cli("report", "1", "--out", str(tmp_path / "r.html"), env=env)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert not db.exists()


def test_unwritable_output_is_one_line(workspace, tmp_path):
    out = tmp_path / "missing-folder" / "r.pdf"
    done = cli(
        "report", str(workspace["result"]["session"]), "--format", "pdf", "--out", str(out), env=workspace["env"]
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "cannot write" in done.stderr


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal; (exit code, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "emotion_core", *args], cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    stdout = process.communicate()[0].decode()
    os.close(master)
    return process.returncode, stdout, shown.decode(errors="replace")


def test_analyze_shows_a_progress_bar_only_on_a_terminal(workspace):
    args = ["--faces", str(workspace["faces"]), "analyze", str(workspace["clip"])]
    code, stdout, terminal = run_on_a_terminal(args, workspace["env"])
    assert code == 0 and "clip.mp4:" in stdout
    assert "100%" in terminal and "[" + "#" * 30 + "]" in terminal
    code, _, terminal = run_on_a_terminal([*args, "--json"], workspace["env"])
    assert code == 0 and terminal == ""
    piped = cli(*args, env=workspace["env"])  # stderr a pipe, not a terminal
    assert piped.returncode == 0 and piped.stderr == ""
