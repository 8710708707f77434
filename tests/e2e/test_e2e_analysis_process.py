"""The analysis process of a browser's camera stream, through the real app: it starts with the
camera, survives a crash (the page says so and names come back), and ends on STOP, on closing the
tab and with the server."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import psutil
import pytest
from playwright.sync_api import expect

from emotion_core.recognition import enroll
from tests.e2e.conftest import AppServer, start_server, stop_server
from tests.e2e.e2e_page import wait_until

CRASH_NOTICE = "face analysis stopped unexpectedly"
END_TIMEOUT_S = 20.0


def analysis_processes(server: AppServer) -> list[int]:
    """The server's analysis processes: the children of its multiprocessing fork server."""
    found = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if any("forkserver" in part for part in child.cmdline()):
                found += [p.pid for p in child.children() if p.status() != psutil.STATUS_ZOMBIE]
        except psutil.NoSuchProcess:
            continue
    return found


def process_tree(server: AppServer) -> str:
    lines = []
    for process in psutil.Process(server.process.pid).children(recursive=True):
        try:
            lines.append(f"{process.pid} {process.ppid()} {process.status()} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return "\n".join(lines)


def named(app, name: str, server: AppServer) -> None:
    try:
        app.wait_figures(lambda f: name in f.in_view, f"{name} in view")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nthe server's processes:\n{process_tree(server)}") from None


@pytest.fixture
def own_server(tmp_path, enrollment) -> Iterator[AppServer]:
    """A server of this test's own with Barack Obama enrolled (the session's server stays as the
    enrollment test expects it)."""
    server = start_server(tmp_path)
    enroll(server.faces_path, "Barack Obama", enrollment["Barack Obama"], tolerance=0.5)
    yield server
    stop_server(server, "analysis-process")


def test_the_analysis_process_follows_the_camera_and_recovers_from_a_crash(own_server, open_app):
    enrolled = own_server
    app = open_app(enrolled, "obama")
    wait_until(lambda: analysis_processes(enrolled), lambda found: not found, "no analysis before START", END_TIMEOUT_S)

    app.start_camera()
    named(app, "Barack Obama", enrolled)
    [crashed] = wait_until(lambda: analysis_processes(enrolled), lambda found: len(found) == 1, "one analysis process")
    os.kill(crashed, signal.SIGKILL)
    expect(app.page.get_by_text(CRASH_NOTICE)).to_be_visible(timeout=30_000)
    wait_until(
        lambda: analysis_processes(enrolled), lambda found: found and crashed not in found, "a new analysis process"
    )
    named(app, "Barack Obama", enrolled)
    expect(app.page.get_by_text(CRASH_NOTICE)).to_have_count(0, timeout=30_000)

    app.stop_camera()
    wait_until(lambda: analysis_processes(enrolled), lambda found: not found, "no analysis after STOP", END_TIMEOUT_S)

    app.start_camera()
    named(app, "Barack Obama", enrolled)
    wait_until(lambda: analysis_processes(enrolled), lambda found: len(found) == 1, "analysis after START again")
    app.page.close()  # the tab, with its camera still on
    wait_until(lambda: analysis_processes(enrolled), lambda found: not found, "no analysis after closing the tab", 60.0)


def test_no_process_outlives_the_server(tmp_path, open_app):
    server = start_server(tmp_path)
    try:
        app = open_app(server, "obama")
        app.start_camera()
        app.wait_frames(3)
        wait_until(lambda: analysis_processes(server), lambda found: len(found) == 1, "an analysis process")
        family = psutil.Process(server.process.pid).children(recursive=True)
    finally:
        stop_server(server, "analysis-shutdown")
    wait_until(
        lambda: [p.pid for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE],
        lambda alive: not alive,
        "every process of the server to end",
        END_TIMEOUT_S,
    )
