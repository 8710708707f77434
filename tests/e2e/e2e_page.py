"""Driving the app in a real browser: what a user clicks and what a user reads on the page.

Every wait polls the page (or the database) until a condition holds, with a generous bound; a
timeout is a failure that says what was awaited and what was last seen.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import FrameLocator, Locator, Page, expect

from emotion_core.labels import LABELS

T = TypeVar("T")

LOAD_TIMEOUT_MS = 60_000
CAMERA_TIMEOUT_S = 30.0
# streamlit-webrtc labels its buttons "Start"/"Stop" and shows them upper-case with CSS.
START, STOP = re.compile(r"^start$", re.I), re.compile(r"^stop$", re.I)
FIGURES_RE = re.compile(r"([\d.]+) fps processed · (\d+) frames")


def wait_until(
    fetch: Callable[[], T], ok: Callable[[T], bool], what: str, timeout: float = 30.0, interval: float = 0.25
) -> T:
    """Poll `fetch()` until `ok` accepts its value; return that value, or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {value!r}")
        time.sleep(interval)


# st.dataframe draws on a canvas; its grid also renders an accessible (hidden) <table> of the cells.
_TABLE_JS = """t => t ? [[...t.querySelectorAll('thead th')].map(c => c.textContent.trim()),
                         [...t.querySelectorAll('tbody tr')].map(
                             r => [...r.querySelectorAll('td, th')].map(c => c.textContent.trim()))]
               : [[], []]"""
_READ_FIGURES = f"""e => ({{
    text: e.innerText,
    metrics: [...e.querySelectorAll('[data-testid=stMetric]')].map(m => [
        m.querySelector('[data-testid=stMetricLabel]').innerText.trim(),
        m.querySelector('[data-testid=stMetricValue]').innerText.trim()]),
    table: ({_TABLE_JS})(e.querySelector('[data-testid=stDataFrame] table')),
}})"""


def read_table(dataframe: Locator) -> list[dict[str, str]]:
    """The rows of an `st.dataframe` as header -> cell text."""
    headers, rows = dataframe.evaluate(f"e => ({_TABLE_JS})(e.querySelector('table'))")
    return [dict(zip(headers, row)) for row in rows]


def table_counts(rows: Iterable[dict[str, str]]) -> dict[str, dict[str, int]]:
    """Person -> emotion -> count from the rows of a counts table (first column: the person)."""
    return {next(iter(row.values())): {label: int(row[label]) for label in LABELS if label in row} for row in rows}


@dataclass(frozen=True)
class LiveFigures:
    """What the live page's figures area shows at one moment."""

    observations: int
    people_counted: int
    overall: str
    in_view: str
    fps: float
    frames: int
    table: dict[str, dict[str, str]]  # person -> column -> cell text

    def counts(self) -> dict[str, dict[str, int]]:
        """Person -> emotion -> count, from the live table."""
        return table_counts(self.table.values())


class AppPage:
    """One browser tab on the app."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url

    # ------------------------------------------------------------ navigation
    def open(self, path: str = "") -> AppPage:
        self.page.goto(f"{self.url}/{path}", timeout=LOAD_TIMEOUT_MS)
        self.wait_loaded()
        return self

    def wait_loaded(self) -> None:
        """Wait until the page is connected and its script has finished a run without errors."""
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=LOAD_TIMEOUT_MS)
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=LOAD_TIMEOUT_MS)
        self.assert_no_exception()

    def assert_no_exception(self) -> None:
        exceptions = self.page.get_by_test_id("stException")
        assert exceptions.count() == 0, f"the page shows an exception: {exceptions.first.inner_text()}"

    def go_to(self, title: str) -> None:
        """Follow the sidebar navigation link `title` (same browser session)."""
        link = self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True)
        heading = self.page.get_by_role("heading", level=1).first
        # A click that lands while the page reruns (right after STOP, or a timed refresh) can be
        # dropped by the browser's Streamlit client; a person clicks again, and so does this.
        for attempt in range(3):
            self.wait_loaded()
            link.click()
            try:
                expect(heading).to_contain_text(title, timeout=LOAD_TIMEOUT_MS // 3)
                break
            except AssertionError:
                if attempt == 2:
                    raise
        self.wait_loaded()

    def screenshot(self, path: Path) -> None:
        """Screenshot of the whole page (Streamlit scrolls inside its main area, so grow the viewport)."""
        size = self.page.viewport_size
        height = self.page.get_by_test_id("stMain").evaluate("e => e.scrollHeight")
        self.page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        try:
            self.page.screenshot(path=str(path))
        finally:
            self.page.set_viewport_size(size)

    # ------------------------------------------------------------ camera
    @property
    def camera(self) -> FrameLocator:
        return self.page.frame_locator('iframe[src*="streamlit_webrtc"]')

    def start_camera(self) -> float:
        """Press START; return the time.monotonic() of the click."""
        button = self.camera.get_by_role("button", name=START)
        button.click(timeout=LOAD_TIMEOUT_MS)
        clicked = time.monotonic()
        expect(self.camera.get_by_role("button", name=STOP)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        return clicked

    def stop_camera(self) -> None:
        self.camera.get_by_role("button", name=STOP).click()
        expect(self.camera.get_by_role("button", name=START)).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    def wait_figures(
        self, ok: Callable[[LiveFigures], bool], what: str, timeout: float = CAMERA_TIMEOUT_S
    ) -> LiveFigures:
        """Poll the live figures until `ok` accepts them; return them."""
        return wait_until(self.figures, lambda f: f is not None and ok(f), what, timeout)

    def wait_frames(self, more_than: int, timeout: float = CAMERA_TIMEOUT_S) -> LiveFigures:
        """Wait until the page reports more than `more_than` processed frames."""
        return self.wait_figures(lambda f: f.frames > more_than, f"more than {more_than} processed frames", timeout)

    # ------------------------------------------------------------ counting
    @property
    def counting_switch(self) -> Locator:
        return self.page.get_by_test_id("stSidebar").get_by_role("switch", name="Count emotions")

    def set_counting(self, on: bool) -> None:
        switch = self.counting_switch
        if switch.is_checked() != on:
            switch.click(force=True)
        sidebar = self.page.get_by_test_id("stSidebar")
        expect(sidebar.get_by_text("Counting since" if on else "Not counting.")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
        expect(switch).to_be_checked(checked=on)

    def figures(self) -> LiveFigures | None:
        """The live figures now (read in one go), or None while they are not rendered."""
        area = self.page.locator(".st-key-live-stats")
        if area.count() == 0:
            return None
        seen = area.first.evaluate(_READ_FIGURES)
        found = FIGURES_RE.search(seen["text"])
        metrics = dict(seen["metrics"])
        if found is None or "Observations" not in metrics:
            return None
        in_view = re.search(r"In view: (.*)", seen["text"])
        headers, rows = seen["table"]
        return LiveFigures(
            observations=int(metrics["Observations"]),
            people_counted=int(metrics["People counted"]),
            overall=metrics.get("Overall confidence", ""),
            in_view=in_view.group(1) if in_view else "",
            fps=float(found.group(1)),
            frames=int(found.group(2)),
            table={row[0]: dict(zip(headers, row)) for row in rows},
        )

    def final_panel(self) -> Locator:
        return self.page.locator(".st-key-final-confidence")

    def delete_all_records(self) -> None:
        """Sidebar: Delete all emotion records, then confirm."""
        sidebar = self.page.get_by_test_id("stSidebar")
        sidebar.get_by_role("button", name="Delete all emotion records").click()
        sidebar.get_by_role("button", name="Yes, delete everything").click()
        expect(self.page.get_by_text("All emotion records were deleted.")).to_be_visible(timeout=LOAD_TIMEOUT_MS)


# ------------------------------------------------------------------ the database, read directly


def db_counts(db_path: Path, session_id: int | None = None) -> dict[str, dict[str, int]]:
    """Person -> emotion -> number of observations in the SQLite file (one session or all)."""
    query = "SELECT person, emotion, COUNT(*) FROM observations"
    params: tuple = ()
    if session_id is not None:
        query += " WHERE session_id = ?"
        params = (session_id,)
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute(query + " GROUP BY person, emotion", params).fetchall()
    counts: dict[str, dict[str, int]] = {}
    for person, emotion, n in rows:
        counts.setdefault(person, {})[emotion] = n
    return counts


def db_sessions(db_path: Path) -> list[tuple[int, float | None, int]]:
    """(session id, ended_at, observations) of every session, oldest first."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT s.id, s.ended_at, (SELECT COUNT(*) FROM observations o WHERE o.session_id = s.id)"
            " FROM sessions s ORDER BY s.id"
        ).fetchall()


def nonzero(counts: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """`counts` without zero entries (the page shows every emotion; the database only observed ones)."""
    return {person: {k: v for k, v in row.items() if v} for person, row in counts.items()}
