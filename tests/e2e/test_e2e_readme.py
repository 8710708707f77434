"""The README's screenshots: the live page while counting and the history page, taken here.

Only the astronaut photo (Eileen Collins, enrolled through the command line) may appear in them.
"""

import re

from playwright.sync_api import expect

from tests.e2e.e2e_page import read_table, wait_until

OBSERVATIONS = 16  # enough for the charts to show a few points


def test_readme_screenshots(astronaut_server, astronaut, open_app, artifacts, metrics):
    app = open_app(astronaut_server, "astronaut")
    app.start_camera()
    app.wait_figures(lambda f: astronaut in f.in_view, f"{astronaut} in view")
    app.set_counting(True)
    counting = app.wait_figures(
        lambda f: astronaut in f.table and f.observations >= OBSERVATIONS,
        f"{OBSERVATIONS} observations of {astronaut}",
        timeout=60,
    )
    metrics["page fps, 1 face"] = app.wait_frames(counting.frames + 5).fps
    expect(app.page.locator(".st-key-live-stats [data-testid=stVegaLiteChart]")).to_have_count(2)
    app.screenshot(artifacts / "readme_live.png")

    app.set_counting(False)
    expect(app.final_panel().get_by_text(re.compile(r"saved as session \d+"))).to_be_visible()
    app.stop_camera()
    app.go_to("History")
    wait_until(
        lambda: read_table(app.page.locator(".st-key-sessions-table")),
        lambda rows: len(rows) == 1 and astronaut in rows[0]["People"],
        "the session in the history table",
    )
    expect(app.page.locator(".st-key-session-counts")).to_contain_text(astronaut)
    app.screenshot(artifacts / "readme_history.png")
