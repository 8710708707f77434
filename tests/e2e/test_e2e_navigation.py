"""The first visit of a freshly started server, straight at a page other than Live, shows the app's
navigation (Streamlit would list a `pages/` folder's files until `app.py` has run once)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import start_server, stop_server

PAGES = ["Live", "Enroll", "Video", "History", "Access"]  # the local admin on loopback


@pytest.mark.parametrize("path", ["Enroll", "History"])
def test_first_visit_of_a_fresh_server_lists_the_app_pages(path, tmp_path, open_app):
    server = start_server(tmp_path)
    try:
        app = open_app(server, "astronaut", path)
        expect(app.page.get_by_role("heading", level=1).first).to_have_text(path)
        nav = app.page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_role("link")).to_have_count(len(PAGES))
        for title in PAGES:
            expect(nav.get_by_role("link", name=title, exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="app", exact=True)).to_have_count(0)
    finally:
        stop_server(server, f"navigation-{path}")
