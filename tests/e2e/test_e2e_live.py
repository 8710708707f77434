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
from e2e_page import AppPage, LiveFigures, db_counts, db_sessions, nonzero, read_table, table_counts, wait_until
from playwright.sync_api import expect

PEOPLE = ("Barack Obama", "Joe Biden")


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
    grown = live.wait_figures(lambda f: both_counted(f) and all(
        int(f.table[name]["Total"]) >= int(first.table[name]["Total"]) + 3 for name in PEOPLE),
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
    wait_until(lambda: db_counts(enrolled.db_path), lambda counts: all(
        sum(counts.get(name, {}).values()) >= int(first.table[name]["Total"]) for name in PEOPLE),
        "the first observations in the database")
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
    frozen = live.wait_figures(both_counted, "the frozen live table")
    # Frames keep flowing, counts do not change.
    later = live.wait_figures(lambda f: f.frames > frozen.frames + 10 and both_counted(f), "10 more processed frames")
    assert later.counts() == frozen.counts() and later.observations == frozen.observations
    assert both_named(later)
    # The database holds exactly the counts the page shows for the session.
    expected = nonzero(frozen.counts())
    wait_until(lambda: db_counts(enrolled.db_path, session_id), lambda counts: counts == expected,
               f"session {session_id} in the database to hold {expected}")
    ended = {sid: ended_at for sid, ended_at, _ in db_sessions(enrolled.db_path)}
    assert ended[session_id] is not None

    live.go_to("History")
    sessions = live.page.locator(".st-key-sessions-table")
    row = wait_until(lambda: next((r for r in read_table(sessions) if r["Session"] == str(session_id)), None),
                     lambda found: found is not None, f"session {session_id} in the history table")
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
    live.wait_figures(lambda f: f.table == {} and f.observations == 0, "an empty live table")
    expect(live.page.get_by_text("No observations yet.")).to_be_visible()
    assert db_sessions(enrolled.db_path) == []
    assert db_counts(enrolled.db_path) == {}
    live.go_to("History")
    expect(live.page.get_by_text("No sessions recorded yet.")).to_be_visible()
    expect(live.page.locator(".st-key-sessions-table")).to_have_count(0)

