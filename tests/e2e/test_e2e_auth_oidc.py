"""OpenID Connect sign-in (`st.login`) against a real OpenID provider on loopback: the
oidc-provider-mock package's server, a real app server with `[auth]` in a secrets file, Chromium."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.e2e.e2e_page import LOAD_TIMEOUT_MS
from tests.e2e.harness import AppServer, free_port, start_server, stop_server

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

ADA = {"email": "ada@example.org", "email_verified": True, "name": "Ada"}
EVE = {"email": "eve@elsewhere.net", "email_verified": True, "name": "Eve"}


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The OpenID provider's base URL; it knows Ada and Eve."""
    users = [oidc_provider_mock.User(sub="ada", claims=ADA), oidc_provider_mock.User(sub="eve", claims=EVE)]
    with oidc_provider_mock.run_server_in_thread(user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory, provider: str) -> Iterator[AppServer]:
    """EMOTION_AUTH=required, no local account, `[auth]` pointing at the provider, Ada an admin."""
    folder = tmp_path_factory.mktemp("oidc")
    port = free_port()
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "a-test-cookie-secret-that-is-long-enough-0123456789"\n'
        'client_id = "emotion-app"\n'
        'client_secret = "emotion-app-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    app = start_server(
        folder,
        {"EMOTION_AUTH": "required", "EMOTION_OIDC_ROLES": '{"admin": ["ada@example.org"]}'},
        port=port,
        options=("--secrets.files", str(secrets)),
    )
    yield app
    stop_server(app, "oidc")


def audit_rows(server: AppServer) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT actor, action, outcome, detail FROM audit_log ORDER BY id").fetchall()


def sign_in_at_provider(open_app, server: AppServer, subject: str):
    app = open_app(server, "two_people")
    app.page.get_by_role("button", name="Sign in with your organisation").click()
    app.page.get_by_role("button", name=subject, exact=True).click(timeout=LOAD_TIMEOUT_MS)  # a known user
    app.page.wait_for_url(f"{server.url}/**", timeout=LOAD_TIMEOUT_MS)
    app.wait_loaded()
    return app


def test_auth_oidc_admin_signs_in_through_the_provider(oidc_server, open_app):
    app = sign_in_at_provider(open_app, oidc_server, "ada")
    expect(app.page.get_by_role("heading", name="Live emotion recognition")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(app.page.get_by_test_id("stSidebar").get_by_text("ada@example.org")).to_be_visible()
    assert ("ada@example.org", "sign-in", "ok", "OpenID Connect") in audit_rows(oidc_server)


def test_auth_oidc_identity_without_a_role_gets_no_access(oidc_server, open_app):
    app = sign_in_at_provider(open_app, oidc_server, "eve")
    expect(app.page.get_by_role("heading", name="No access")).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    assert app.page.get_by_test_id("stSidebarNav").count() == 0
    assert ("eve@elsewhere.net", "sign-in", "refused", "OpenID Connect, no role") in audit_rows(oidc_server)
