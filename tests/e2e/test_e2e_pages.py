"""The real server serves every page to Chromium without an error."""

from playwright.sync_api import expect

from tests.e2e.e2e_page import START


def test_every_page_renders(server, open_app):
    app = open_app(server, "two_people")
    expect(app.page.get_by_role("heading", name="Live emotion recognition")).to_be_visible()
    expect(app.camera.get_by_role("button", name=START)).to_be_visible()
    expect(app.counting_switch).not_to_be_checked()
    for title in ("Enroll", "Video", "History", "Live"):
        app.go_to(title)
    assert "Traceback" not in server.log_text()
