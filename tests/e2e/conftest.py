"""Fixtures for the browser tests: fake-camera videos, a real `streamlit run` server, Chromium.

These tests only run through `tests/e2e/run`, which puts them in a loopback-only network
namespace. Chromium's fake camera plays a Y4M file made here from real photos in ../shared/data;
Chromium reads that file at launch, so there is one browser per video.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from emotion_core.images import load_image
from emotion_core.recognition import enroll
from tests.data import DATA_MISSING, FACES, GROUPS, PROJECT_ROOT, have_data, photos
from tests.e2e.e2e_page import AppPage
from tests.e2e.harness import (
    ARTIFACTS,
    CHROMIUM,
    AppServer,
    launch_chromium,
    letterbox,
    only_loopback,
    start_server,
    stop_server,
    write_y4m,
)

# A webcam-like 10 fps (the app processes 1-3 fps of it on 2 cores); 2 fps where two streams run at
# once or the camera restarts often, so that the server's WebRTC event loop keeps some CPU.
FPS, LOW_FPS = 10, 2
VIEWPORT = {"width": 1400, "height": 1000}

# Photos used to enroll; the camera is shown other photos of the same people.
ENROLLMENT = {
    "Barack Obama": [FACES / "barack_obama" / "fr__obama.jpg", FACES / "barack_obama" / "fr__obama1.jpg"],
    "Joe Biden": [FACES / "joe_biden" / "fr__biden.jpg"],
}
ASTRONAUT = "Eileen Collins"
ASTRONAUT_PHOTO = FACES / "eileen_collins" / "skimage__astronaut.png"


def pytest_configure(config: pytest.Config) -> None:
    expect.set_options(timeout=30_000)  # the page updates a few times a second; CI machines are slow


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    if os.environ.get("EMOTION_E2E") != "1" or not only_loopback():
        reason = "browser tests run only through tests/e2e/run (a loopback-only network namespace)"
    elif not have_data():
        reason = DATA_MISSING
    elif not CHROMIUM.is_file():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (./run.sh test does)"
    else:
        reason = None
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------- fake camera videos


@pytest.fixture(scope="session")
def two_people_frame() -> np.ndarray:
    """The RGB frame of the `two_people` video."""
    return letterbox(load_image(GROUPS / "fr__two_people.jpg"))


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory, two_people_frame: np.ndarray) -> dict[str, Path]:
    """Fake-camera videos: `two_people` (Obama and Biden in one photo), `obama` (his photos not
    used for enrollment, two seconds each, at LOW_FPS), `astronaut` (the only one for README screenshots)."""
    folder = tmp_path_factory.mktemp("videos")
    enrolled = {path for paths in ENROLLMENT.values() for path in paths}
    obama = [p for p in photos("barack_obama") if p not in enrolled]
    assert obama, "every photo of Barack Obama is used for enrollment"
    return {
        "two_people": write_y4m(folder / "two_people.y4m", [(two_people_frame, FPS)], FPS),
        "obama": write_y4m(folder / "obama.y4m", [(letterbox(load_image(p)), 2 * LOW_FPS) for p in obama], fps=LOW_FPS),
        "astronaut": write_y4m(folder / "astronaut.y4m", [(letterbox(load_image(ASTRONAUT_PHOTO)), FPS)], FPS),
    }


# ---------------------------------------------------------------- the app server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with an empty registry at first (the enrollment test fills it) and its own database."""
    app = start_server(tmp_path_factory.mktemp("app"))
    yield app
    stop_server(app, "main")


@pytest.fixture(scope="session")
def enrollment() -> dict[str, list[Path]]:
    """Name -> the photos each enrolled person is enrolled from."""
    return ENROLLMENT


@pytest.fixture(scope="session")
def enrolled(server: AppServer) -> AppServer:
    """`server` with Barack Obama and Joe Biden enrolled (by the enrollment test, or here if it did not run)."""
    from emotion_core.registry import load_registry

    people = load_registry(server.faces_path).people()
    for name, images in ENROLLMENT.items():
        if name not in people:
            enroll(server.faces_path, name, images, tolerance=0.5)
    return server


@pytest.fixture(scope="session")
def astronaut() -> str:
    """The name Eileen Collins is enrolled under on `astronaut_server`."""
    return ASTRONAUT


@pytest.fixture(scope="session")
def astronaut_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app with only Eileen Collins enrolled, through the command line."""
    folder = tmp_path_factory.mktemp("astronaut")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "emotion_core",
            "--faces",
            str(folder / "faces.pkl"),
            "enroll",
            ASTRONAUT,
            str(ASTRONAUT_PHOTO),
        ],
        cwd=PROJECT_ROOT,
        check=True,
    )
    app = start_server(folder)
    yield app
    stop_server(app, "astronaut")


# ---------------------------------------------------------------- browsers


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    with sync_playwright() as driver:
        yield driver


class Browsers:
    """Headless Chromiums, one per fake-camera video, launched on first use."""

    def __init__(self, driver, videos: dict[str, Path]) -> None:
        self.driver, self.videos = driver, videos
        self.browsers: dict[str, Browser] = {}
        self.console: dict[BrowserContext, list[str]] = {}  # browser console lines, for failure reports

    def new_context(self, video: str) -> BrowserContext:
        """A fresh browser session (own cookies, so its own Streamlit session) seeing `video`."""
        if video not in self.browsers:
            self.browsers[video] = launch_chromium(self.driver, self.videos[video])
        context = self.browsers[video].new_context(viewport=VIEWPORT)
        lines = self.console[context] = []
        context.on(
            "console", lambda message: lines.append(f"{time.strftime('%H:%M:%S')} {message.type}: {message.text}")
        )
        return context

    def close(self) -> None:
        for browser in self.browsers.values():
            browser.close()


@pytest.fixture(scope="session")
def browser_for(pytestconfig: pytest.Config, playwright_driver, videos: dict[str, Path]) -> Iterator[Browsers]:
    """`browser_for.new_context(video_name)`: a browser session whose fake camera plays that video."""
    browsers = Browsers(playwright_driver, videos)
    pytestconfig.stash[_BROWSERS] = browsers
    yield browsers
    browsers.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ (git-ignored): screenshots and server logs."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


_BROWSERS = pytest.StashKey["Browsers"]()
_METRICS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """After a failed test (its tabs still open), keep a screenshot of every tab in test-artifacts/."""
    report = yield
    browsers = item.config.stash.get(_BROWSERS, None)
    if report.when == "call" and report.failed and browsers is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        for video, browser in browsers.browsers.items():
            for n, context in enumerate(browser.contexts):
                (ARTIFACTS / f"failed-{item.name}-{video}-{n}-console.txt").write_text(
                    "\n".join(browsers.console.get(context, []))
                )
                for m, page in enumerate(context.pages):
                    try:
                        page.screenshot(path=str(ARTIFACTS / f"failed-{item.name}-{video}-{n}-{m}.png"), full_page=True)
                    except Exception as exc:  # a crashed tab must not hide the test's own failure
                        print(f"no screenshot of tab {video}-{n}-{m}: {exc}")
    return report


@pytest.fixture
def open_app(browser_for) -> Iterator[Callable[..., AppPage]]:
    """`open_app(server, video, path="")`: a new browser session (context) on the app; closed after the test."""
    contexts: list = []

    def open_page(server: AppServer, video: str, path: str = "") -> AppPage:
        context = browser_for.new_context(video)
        contexts.append(context)
        return AppPage(context.new_page(), server.url).open(path)

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def metrics(pytestconfig: pytest.Config) -> dict:
    """Measured figures (not asserted): printed after the run and saved to test-artifacts/e2e-metrics.json."""
    return pytestconfig.stash.setdefault(_METRICS, {})


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    measured = config.stash.get(_METRICS, {})
    if measured:
        terminalreporter.section("e2e measurements")
        for key, value in measured.items():
            terminalreporter.write_line(f"{key}: {value}")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "e2e-metrics.json").write_text(json.dumps(measured, indent=2))
