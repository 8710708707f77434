"""Access control in a real browser on a real server with EMOTION_AUTH=required on 127.0.0.1:
the sign-in form on every page, each role's part, a stale widget event refused, throttling,
the audit log, XSRF still on. Accounts are made with the `users add --password-stdin` CLI."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from emotion_core.accounts import MAX_ACCOUNT_FAILURES, Accounts
from emotion_core.store import EmotionLog, Observation
from tests.data import PROJECT_ROOT
from tests.e2e.e2e_page import LOAD_TIMEOUT_MS, AppPage, wait_until
from tests.e2e.harness import AppServer, start_server, stop_server
from tests.servers import upload_without_xsrf_token

ACCOUNTS = {"ada": ("admin", "ada-secret-1"), "olga": ("operator", "olga-secret-1"), "vic": ("viewer", "vic-secret-1")}
PAGE_PATHS = ["", "Enroll", "Video", "History", "Access"]
DELETE = re.compile("Delete")


def add_account(server: AppServer, name: str, role: str, password: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emotion_core", "users", "add", name, "--role", role, "--password-stdin"],
        input=f"{password}\n",
        cwd=PROJECT_ROOT,
        env={"EMOTION_DB_URL": f"sqlite:///{server.db_path}", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"added {name} ({role})"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """EMOTION_AUTH=required on 127.0.0.1, three accounts, one recorded session."""
    folder = tmp_path_factory.mktemp("auth")
    app = start_server(folder, {"EMOTION_AUTH": "required"})
    for name, (role, password) in ACCOUNTS.items():
        add_account(app, name, role, password)
    log = EmotionLog(f"sqlite:///{app.db_path}")
    session = log.start_session(1_700_000_000.0, "faceapi", {})
    log.add_observations(session, [Observation(1_700_000_001.0, "Alice", "Happy", 0.9)])
    log.end_session(session, 1_700_000_002.0, {"people": {}})
    assert log.flush()
    log.close()
    yield app
    stop_server(app, "auth")


def audit_rows(server: AppServer) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT actor, action, subject, outcome FROM audit_log ORDER BY id").fetchall()


def expect_sign_in_form(app: AppPage) -> None:
    page = app.page
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_label("Username", exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    assert page.get_by_test_id("stSidebarNav").count() == 0
    assert page.get_by_role("button").filter(has_text=DELETE).count() == 0
    assert page.get_by_test_id("stDataFrame").count() == 0


def sign_in(app: AppPage, name: str, password: str | None = None) -> None:
    app.page.get_by_label("Username", exact=True).fill(name)
    app.page.get_by_label("Password", exact=True).fill(ACCOUNTS[name][1] if password is None else password)
    app.page.get_by_role("button", name="Sign in", exact=True).click()
    app.wait_loaded()


def signed_in(open_app, server: AppServer, name: str) -> AppPage:
    app = open_app(server, "two_people")
    sign_in(app, name)
    expect(app.page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")).to_be_visible()
    return app


def nav_titles(app: AppPage) -> list[str]:
    links = app.page.get_by_test_id("stSidebarNav").get_by_role("link").all()
    return [link.inner_text().strip().splitlines()[-1] for link in links]  # after the icon's name


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_auth_every_page_shows_only_the_sign_in_form(auth_server, open_app, path):
    expect_sign_in_form(open_app(auth_server, "two_people", path))


def test_auth_viewer_sees_history_and_no_delete_button_and_exports_are_audited(auth_server, open_app):
    app = signed_in(open_app, auth_server, "vic")
    expect(app.page.get_by_role("heading", level=1).first).to_contain_text("History", timeout=LOAD_TIMEOUT_MS)
    assert nav_titles(app) in ([], ["History"])  # Streamlit shows no navigation for a single page
    for path in PAGE_PATHS:  # other pages' URLs lead to History, never to a Delete button
        app.open(path)  # a new browser session: a local sign-in lasts as long as the tab's session
        assert app.page.get_by_text("Page not found").count() == 0  # every page's URL has the form
        sign_in(app, "vic")  # then a page outside the viewer's role gives way to the default page
        expect(app.page.get_by_role("heading", level=1).first).to_contain_text("History", timeout=LOAD_TIMEOUT_MS)
        expect(app.page.get_by_role("button", name="Download CSV")).to_be_visible()
        assert app.page.get_by_role("button").filter(has_text=DELETE).count() == 0
    with app.page.expect_download() as download:
        app.page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.endswith(".csv")
    wait_until(
        lambda: audit_rows(auth_server),
        lambda rows: any(row[:2] == ("vic", "export") and row[3] == "ok" for row in rows),
        "the CSV export in the audit log",
    )


def test_auth_operator_has_only_the_live_page(auth_server, open_app):
    app = signed_in(open_app, auth_server, "olga")
    expect(app.page.get_by_role("heading", name="Live emotion recognition")).to_be_visible()
    assert nav_titles(app) == ["Live", "Video"]
    expect(app.counting_switch).to_be_visible()
    assert app.page.get_by_role("button").filter(has_text=DELETE).count() == 0


def test_auth_admin_has_every_page_and_the_audit_log(auth_server, open_app):
    app = signed_in(open_app, auth_server, "ada")
    expect(app.page.get_by_role("heading", name="Live emotion recognition")).to_be_visible()
    assert nav_titles(app) == ["Live", "Enroll", "Video", "History", "Access"]
    expect(app.page.get_by_role("button", name="Delete all emotion records")).to_be_visible()
    for title in ("Enroll", "History", "Access"):
        app.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
        expect(app.page.get_by_role("heading", level=1).first).to_contain_text(title, timeout=LOAD_TIMEOUT_MS)
        app.wait_loaded()
    expect(app.page.locator(".st-key-audit-log")).to_be_visible()
    assert ("ada", "sign-in", "", "ok") in audit_rows(auth_server)
    assert "Traceback" not in auth_server.log_text()


def test_auth_a_stale_delete_click_after_the_account_changed_is_refused(auth_server, open_app):
    """The admin's page still shows the confirm button; the account is demoted meanwhile, and the
    click (a widget event from a session that may no longer delete) is refused and audited."""
    accounts = Accounts(f"sqlite:///{auth_server.db_path}")
    accounts.add("temp-admin", "admin", "temp-secret-1")
    ACCOUNTS["temp-admin"] = ("admin", "temp-secret-1")
    app = signed_in(open_app, auth_server, "temp-admin")
    app.go_to("History")
    delete = app.page.get_by_role("button", name="Delete this session")
    try:
        expect(delete).to_be_visible(timeout=LOAD_TIMEOUT_MS // 3)
    except AssertionError:  # seen once: a rerun left over from the sign-in showed Live again
        app.go_to("History")
    delete.click()
    confirm = app.page.get_by_role("button", name=re.compile(r"^Yes, delete session \d+$"))
    expect(confirm).to_be_visible()
    accounts.set_role("temp-admin", "viewer")
    confirm.click()
    expect_sign_in_form(app)
    session_rows = EmotionLog(f"sqlite:///{auth_server.db_path}").sessions()
    assert len(session_rows) == 1
    assert any(
        row[1] == "delete" and row[3] == "refused" and row[2].startswith("session") for row in audit_rows(auth_server)
    )


def test_auth_wrong_password_is_throttled(auth_server, open_app):
    app = open_app(auth_server, "two_people")

    def failures() -> int:
        return sum(1 for row in audit_rows(auth_server) if row[:2] == ("olga", "sign-in") and row[3] == "failed")

    before = failures()
    for n in range(1, MAX_ACCOUNT_FAILURES + 1):
        sign_in(app, "olga", "wrong-password")
        expect(app.page.get_by_text("Wrong username or password.")).to_be_visible()
        # The message of the previous attempt may still show: wait for this attempt's audit entry.
        wait_until(failures, lambda count, n=n: count == before + n, f"failed sign-in {n} in the audit log")
    sign_in(app, "olga")
    expect(app.page.get_by_text(re.compile("Too many failed sign-ins"))).to_be_visible()
    expect_sign_in_form(app)
    rows = [row for row in audit_rows(auth_server) if row[:2] == ("olga", "sign-in")]
    assert [row[3] for row in rows[-MAX_ACCOUNT_FAILURES - 1 :]] == ["failed"] * MAX_ACCOUNT_FAILURES + ["refused"]


def test_auth_xsrf_stays_on(auth_server, open_app):
    app = open_app(auth_server, "two_people")
    cookies = {cookie["name"] for cookie in app.page.context.cookies()}
    assert "_streamlit_xsrf" in cookies
    refused = upload_without_xsrf_token(auth_server.url)
    assert refused.code == 403 and "XSRF" in refused.read().decode()


def test_auth_sign_out(auth_server, open_app):
    app = signed_in(open_app, auth_server, "vic")
    app.page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    app.wait_loaded()
    expect_sign_in_form(app)
    assert ("vic", "sign-out", "", "ok") in audit_rows(auth_server)
