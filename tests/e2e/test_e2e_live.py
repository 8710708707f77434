"""Scenarios 2-4 on one browser session, as a user goes through them: count live, stop, delete.

The camera shows Barack Obama and Joe Biden together (`_groups/fr__two_people.jpg`), a photo
neither was enrolled from.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from playwright.sync_api import expect

from emotion_core.overlay import name_colour
from emotion_core.recognition import Matcher, identify
from emotion_core.registry import load_registry
from tests.e2e.e2e_page import (
    AppPage,
    LiveFigures,
    db_counts,
    db_sessions,
    nonzero,
    read_table,
    table_counts,
    wait_until,
)

PEOPLE = ("Barack Obama", "Joe Biden")
LABEL_BAND = 40  # pixels above a face box searched for its label
COLOUR_TOLERANCE = 40  # per channel, after the video codec
MIN_LABEL_SHARE = 0.15


def both_named(figures: LiveFigures) -> bool:
    return all(name in figures.in_view for name in PEOPLE)


def both_counted(figures: LiveFigures) -> bool:
    return set(figures.table) == set(PEOPLE) and all(int(figures.table[name]["Total"]) >= 1 for name in PEOPLE)


@pytest.fixture(scope="module")
def live(enrolled, browser_for, metrics) -> Iterator[AppPage]:
    """The live page with the camera started and counting on, both people counted at least once."""
    context = browser_for.new_context("two_people")
    app = AppPage(context.new_page(), enrolled.url).open()
    clicked = app.start_camera()
    app.wait_figures(lambda f: any(name in f.in_view for name in PEOPLE), "a recognised name in view", timeout=60)
    metrics["START to first recognised name (s)"] = round(time.monotonic() - clicked, 1)
    app.wait_figures(both_named, "both names in view")
    app.set_counting(True)
    app.wait_figures(both_counted, "rows for both people in the live table")
    yield app
    context.close()


def score(text: str) -> float:
    assert re.fullmatch(r"\d+(\.\d+)?", text), f"not a score: {text!r}"
    value = float(text)
    assert 0 <= value <= 100
    return value


def test_live_names_counts_and_score(live, enrolled, metrics, artifacts):
    first = live.wait_figures(lambda f: both_named(f) and both_counted(f), "both people named and counted")
    # Counts grow for both people while the camera runs and counting is on.
    # (The metrics and the table are separate elements: each is compared with its own earlier value.)
    grown = live.wait_figures(
        lambda f: (
            both_counted(f)
            and f.observations > first.observations
            and all(int(f.table[name]["Total"]) >= int(first.table[name]["Total"]) + 3 for name in PEOPLE)
        ),
        "both people's counts and the observations figure to grow",
    )
    assert grown.people_counted == 2
    for name in PEOPLE:
        row = grown.table[name]
        assert sum(grown.counts()[name].values()) == int(row["Total"])
        score(row["Confidence"])
    score(grown.overall)
    assert both_named(grown), grown.in_view
    # The counted rows are in the database too (the session is open, rows are written in batches).
    wait_until(
        lambda: db_counts(enrolled.db_path),
        lambda counts: all(sum(counts.get(name, {}).values()) >= int(first.table[name]["Total"]) for name in PEOPLE),
        "the first observations in the database",
    )
    fps = [f.fps for f in (live.wait_frames(grown.frames + n) for n in (5, 10, 15))]
    metrics["page fps, 2 faces (median of 3 readings)"] = statistics.median(fps)
    live.screenshot(artifacts / "live_counting.png")


def label_colour_share(frame: np.ndarray, box: tuple[int, int, int, int], colour: tuple[int, int, int]) -> float:
    """Share of the pixels around the top edge of `box` (where the name label is drawn) close to `colour` (BGR).

    The band is generous: the app detects on a downscaled frame, so its box is a little off ours.
    """
    top, right, _bottom, left = box
    band = frame[max(0, top - LABEL_BAND) : top + LABEL_BAND // 2, left:right].astype(int)
    return float((np.abs(band - colour).max(axis=2) < COLOUR_TOLERANCE).mean())


def test_overlay_labels_each_face_in_its_name_colour(live, enrolled, two_people_frame, artifacts):
    """The returned video shows each person's label (in that name's colour) above their own face."""
    matcher = Matcher(load_registry(enrolled.faces_path), tolerance=0.55)
    faces = {face.name: face.box for face in identify(two_people_frame, matcher)}
    assert set(faces) == set(PEOPLE), faces
    colours = {name: name_colour(name) for name in PEOPLE}
    video = live.camera.locator("video")

    def returned_frame() -> np.ndarray:
        # A clip of the page (an element screenshot of a <video> comes out blank in headless Chromium).
        png = np.frombuffer(live.page.screenshot(clip=video.bounding_box()), np.uint8)
        return cv2.resize(cv2.imdecode(png, cv2.IMREAD_COLOR), two_people_frame.shape[1::-1])

    def shares(frame: np.ndarray) -> dict[tuple[str, str], float]:
        return {
            (face, name): round(label_colour_share(frame, faces[face], colours[name]), 2)
            for face in PEOPLE
            for name in PEOPLE
        }

    def labelled(found: dict[tuple[str, str], float]) -> bool:
        own = all(found[(name, name)] >= MIN_LABEL_SHARE for name in PEOPLE)
        other = colours[PEOPLE[0]] == colours[PEOPLE[1]] or all(
            found[(face, name)] < MIN_LABEL_SHARE / 2 for face in PEOPLE for name in PEOPLE if face != name
        )
        return own and other

    frame = wait_until(returned_frame, lambda f: labelled(shares(f)), "each name's label above its face")
    cv2.imwrite(str(artifacts / "live_returned_frame.png"), frame)


def test_stop_counting_freezes_counts_and_saves_session(live, enrolled, artifacts):
    live.set_counting(False)
    panel = live.final_panel()
    expect(panel.get_by_role("heading", name="Final confidence")).to_be_visible()
    session_id = int(re.search(r"saved as session (\d+)", panel.inner_text()).group(1))
    for name in ("Overall", *PEOPLE):
        score(panel.get_by_test_id("stMetric").filter(has_text=name).get_by_test_id("stMetricValue").inner_text())
    frozen = live.wait_figures(both_counted, "the frozen live table")
    # Frames keep flowing, counts do not change.
    later = live.wait_figures(lambda f: f.frames > frozen.frames + 10 and both_counted(f), "10 more processed frames")
    assert later.counts() == frozen.counts() and later.observations == frozen.observations
    assert both_named(later)
    # The database holds exactly the counts the page shows for the session.
    expected = nonzero(frozen.counts())
    wait_until(
        lambda: db_counts(enrolled.db_path, session_id),
        lambda counts: counts == expected,
        f"session {session_id} in the database to hold {expected}",
    )
    ended = {sid: ended_at for sid, ended_at, _ in db_sessions(enrolled.db_path)}
    assert ended[session_id] is not None

    live.go_to("History")
    sessions = live.page.locator(".st-key-sessions-table")
    row = wait_until(
        lambda: next((r for r in read_table(sessions) if r["Session"] == str(session_id)), None),
        lambda found: found is not None,
        f"session {session_id} in the history table",
    )
    assert int(row["Observations"]) == frozen.observations == sum(map(sum, (c.values() for c in expected.values())))
    assert all(name in row["People"] for name in PEOPLE)
    assert all(name in row["Final confidence"] for name in PEOPLE)
    # The newest session is selected: its counts table matches the database.
    wait_until(
        lambda: nonzero(table_counts(read_table(live.page.locator(".st-key-session-counts")))),
        lambda shown: shown == expected,
        "the session's counts table to equal the database",
    )
    live.screenshot(artifacts / "history.png")


def test_delete_all_records_with_confirmation(live, enrolled):
    live.go_to("Live")
    assert db_sessions(enrolled.db_path), "nothing to delete: no session was recorded"
    live.delete_all_records()
    live.wait_figures(lambda f: f.table == {} and f.observations == 0, "an empty live table")
    expect(live.page.get_by_text("No observations yet.")).to_be_visible()
    assert db_sessions(enrolled.db_path) == []
    assert db_counts(enrolled.db_path) == {}
    live.go_to("History")
    expect(live.page.get_by_text("No sessions recorded yet.")).to_be_visible()
    expect(live.page.locator(".st-key-sessions-table")).to_have_count(0)
