"""Scenarios 2-4 on one browser session, as a user goes through them: count live, stop, delete.

The camera shows Barack Obama and Joe Biden together (`_groups/fr__two_people.jpg`), a photo
neither was enrolled from.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Iterator

import pytest
from e2e_page import AppPage, LiveFigures, db_counts, db_sessions, nonzero, read_table, table_counts, wait_for
from playwright.sync_api import expect

PEOPLE = ("Barack Obama", "Joe Biden")


def both_named(figures: LiveFigures | None) -> bool:
    return figures is not None and all(name in figures.in_view for name in PEOPLE)


def both_counted(figures: LiveFigures | None, at_least: int = 1) -> bool:
    return (figures is not None and set(figures.table) == set(PEOPLE)
            and all(int(figures.table[name]["Total"]) >= at_least for name in PEOPLE))


@pytest.fixture(scope="module")
def live(enrolled, browser_for, metrics) -> Iterator[AppPage]:
    """The live page with the camera started and counting on, both people counted at least once."""
    context = browser_for.new_context("two_people")
    app = AppPage(context.new_page(), enrolled.url).open()
    clicked = app.start_camera()
    wait_for(lambda: (f := app.figures()) is not None and any(n in f.in_view for n in PEOPLE),
             "a recognised name in view", timeout=60)
    metrics["START to first recognised name (s)"] = round(time.monotonic() - clicked, 1)
    wait_for(lambda: both_named(app.figures()), "both names in view")
    app.set_counting(True)
    wait_for(lambda: both_counted(app.figures()), "rows for both people in the live table")
    yield app
    context.close()


def score(text: str) -> float:
    assert re.fullmatch(r"\d+(\.\d+)?", text), f"not a score: {text!r}"
    value = float(text)
    assert 0 <= value <= 100
    return value


def test_live_names_counts_and_score(live, enrolled, metrics, artifacts):
    first = live.figures()
    assert both_named(first) and both_counted(first)
    # Counts grow for both people while the camera runs and counting is on.
    grown = wait_for(lambda: (f := live.figures()) and all(
        int(f.table[name]["Total"]) >= int(first.table[name]["Total"]) + 3 for name in PEOPLE) and f,
        "both people's counts to grow")
    assert grown.observations > first.observations
    assert grown.people_counted == 2
    for name in PEOPLE:
        row = grown.table[name]
        assert sum(grown.counts()[name].values()) == int(row["Total"])
        score(row["Confidence"])
    score(grown.overall)
    assert both_named(grown), grown.in_view
    # The counted rows are in the database too (the session is open, rows are written in batches).
    wait_for(lambda: all(sum(db_counts(enrolled.db_path).get(name, {}).values()) >= int(first.table[name]["Total"])
                         for name in PEOPLE), "the first observations in the database")
    fps = [f.fps for f in (live.wait_frames(grown.frames + n) for n in (5, 10, 15))]
    metrics["page fps, 2 faces (median of 3 readings)"] = statistics.median(fps)
    live.screenshot(artifacts / "live_counting.png")


def test_stop_counting_freezes_counts_and_saves_session(live, enrolled, artifacts):
    live.set_counting(False)
    panel = live.final_panel()
    expect(panel.get_by_role("heading", name="Final confidence")).to_be_visible()
    session_id = int(re.search(r"saved as session (\d+)", panel.inner_text()).group(1))
    for name in ("Overall", *PEOPLE):
        score(panel.get_by_test_id("stMetric").filter(has_text=name).get_by_test_id("stMetricValue").inner_text())
    frozen = wait_for(lambda: (f := live.figures()) and both_counted(f) and f, "the frozen live table")
    # Frames keep flowing, counts do not change.
    later = wait_for(lambda: (f := live.figures()) and f.frames > frozen.frames + 10 and both_counted(f) and f,
                     "10 more processed frames")
    assert later.counts() == frozen.counts() and later.observations == frozen.observations
    assert both_named(later)
    # The database holds exactly the counts the page shows for the session.
    expected = nonzero(frozen.counts())
    wait_for(lambda: db_counts(enrolled.db_path, session_id) == expected,
             f"session {session_id} in the database to hold {expected}")
    ended = {sid: ended_at for sid, ended_at, _ in db_sessions(enrolled.db_path)}
    assert ended[session_id] is not None

    live.go_to("History")
    sessions = live.page.locator(".st-key-sessions-table")
    row = wait_for(lambda: next((r for r in read_table(sessions) if r["Session"] == str(session_id)), None),
                   f"session {session_id} in the history table")
    assert int(row["Observations"]) == frozen.observations == sum(map(sum, (c.values() for c in expected.values())))
    assert all(name in row["People"] for name in PEOPLE)
    assert all(name in row["Final confidence"] for name in PEOPLE)
    # The newest session is selected: its counts table matches the database.
    shown = table_counts(read_table(live.page.locator(".st-key-session-counts")))
    assert nonzero(shown) == db_counts(enrolled.db_path, session_id)
    live.screenshot(artifacts / "history.png")


def test_delete_all_records_with_confirmation(live, enrolled):
    live.go_to("Live")
    assert db_sessions(enrolled.db_path), "nothing to delete: no session was recorded"
    live.delete_all_records()
    wait_for(lambda: (f := live.figures()) is not None and f.table == {} and f.observations == 0,
             "an empty live table")
    expect(live.page.get_by_text("No observations yet.")).to_be_visible()
    assert db_sessions(enrolled.db_path) == []
    assert db_counts(enrolled.db_path) == {}
    live.go_to("History")
    expect(live.page.get_by_text("No sessions recorded yet.")).to_be_visible()
    expect(live.page.locator(".st-key-sessions-table")).to_have_count(0)

