"""Scenario 5: two browser sessions at once count independently.

Both cameras show Barack Obama's photos that he was not enrolled from.
"""

import re

from playwright.sync_api import expect

from tests.e2e.e2e_page import AppPage, LiveFigures, db_counts, nonzero, wait_until

OBAMA = "Barack Obama"


def counted(app: AppPage, at_least: int) -> LiveFigures:
    return app.wait_figures(
        lambda f: OBAMA in f.table and f.observations >= at_least, f"at least {at_least} observations including {OBAMA}"
    )


def stop(app: AppPage) -> tuple[int, LiveFigures]:
    """Stop counting; return the saved session id and the frozen figures."""
    app.set_counting(False)
    caption = app.final_panel().get_by_text(re.compile(r"saved as session \d+"))
    expect(caption).to_be_visible()
    frozen = app.wait_figures(lambda f: OBAMA in f.table, "the frozen live table")
    return int(re.search(r"session (\d+)", caption.inner_text()).group(1)), frozen


def test_two_browser_sessions_count_independently(enrolled, open_app):
    first, second = open_app(enrolled, "obama"), open_app(enrolled, "obama")
    for app in (first, second):
        app.start_camera()
    for app in (first, second):
        app.wait_figures(lambda f: OBAMA in f.in_view, f"{OBAMA} in view")

    first.set_counting(True)
    counted(first, 3)
    idle = second.wait_figures(lambda f: OBAMA in f.in_view, "the second session's figures")
    assert idle.observations == 0 and idle.table == {}, "the second session counts although it is off"

    second.set_counting(True)
    counted(second, 1)
    first_id, first_frozen = stop(first)
    # The second session keeps counting while the first stays frozen.
    counted(second, second.wait_figures(lambda f: OBAMA in f.table, "the second table").observations + 3)
    assert first.wait_figures(lambda f: OBAMA in f.table, "the first table").counts() == first_frozen.counts()
    second_id, second_frozen = stop(second)

    assert first_id != second_id
    for session_id, frozen in ((first_id, first_frozen), (second_id, second_frozen)):
        expected = nonzero(frozen.counts())
        wait_until(
            lambda session_id=session_id: db_counts(enrolled.db_path, session_id),
            lambda counts, expected=expected: counts == expected,
            f"session {session_id} in the database to hold {expected}",
        )
