"""Scenario: a team deployment. Two real `streamlit run` servers (A and B) on one PostgreSQL, with
the same cookie secret, behind nginx with sticky sessions (deploy/nginx.conf, as documented).

- an Enroll upload through nginx reaches the replica that holds the browser's session; the same
  upload sent to the other replica is refused (why the stickiness is needed);
- a person enrolled on one server is named on the other;
- a session counted on B appears in A's History;
- delete all on A: B's live page says its session was deleted and stops counting.
"""

from __future__ import annotations

import re
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from playwright.sync_api import Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import ASTRONAUT, ASTRONAUT_PHOTO
from tests.e2e.e2e_page import LOAD_TIMEOUT_MS, read_table, wait_until
from tests.e2e.harness import AppServer, start_server, stop_server
from tests.servers import Proxy, nginx_proxy


@dataclass
class Replicas:
    a: AppServer
    b: AppServer
    proxy: Proxy
    db_url: str

    def by_port(self, upstream: str) -> AppServer:
        return self.a if self.a.url.endswith(upstream.rsplit(":", 1)[1]) else self.b


@pytest.fixture(scope="module")
def replicas(postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    name = f"replicas_{secrets.token_hex(4)}"
    db_url = postgres.create_database(name)
    shared = {"EMOTION_DB_URL": db_url, "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16)}
    a = start_server(tmp_path_factory.mktemp("replica_a"), shared)
    b = start_server(tmp_path_factory.mktemp("replica_b"), shared)
    try:
        ports = [int(server.url.rsplit(":", 1)[1]) for server in (a, b)]
        with nginx_proxy(ports, tmp_path_factory.mktemp("nginx")) as proxy:
            yield Replicas(a, b, proxy, db_url)
    finally:
        stop_server(a, "replica-a")
        stop_server(b, "replica-b")
        postgres.drop_database(name)


def test_an_enroll_upload_through_nginx_sticks_to_its_replica_and_the_other_names_the_person(replicas, open_app):
    app = open_app(SimpleNamespace(url=replicas.proxy.url), "astronaut", "Enroll")
    uploads: list[Request] = []
    app.page.on(
        "request", lambda r: uploads.append(r) if "/_stcore/upload_file/" in r.url and r.method == "PUT" else None
    )
    page = app.page
    page.get_by_role("textbox", name="Name").fill(ASTRONAUT)
    page.get_by_role("textbox", name="Name").press("Enter")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(ASTRONAUT_PHOTO)])
    expect(page.get_by_role("button", name=f"Remove {ASTRONAUT_PHOTO.name}")).to_be_visible()
    app.wait_loaded()
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page.get_by_text(f"Enrolled {ASTRONAUT} with 1 face encoding(s).")).to_be_visible(timeout=LOAD_TIMEOUT_MS)

    # Every request of this browser went to one replica. (The WebSocket is logged only when it closes;
    # the upload succeeding shows it reached the replica holding the WebSocket's session.)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    route = cookies["ec_route"]
    lines = [line for line in replicas.proxy.access_log.read_text().splitlines() if f"route={route}" in line]
    served = {re.search(r"upstream=(\S+)", line).group(1) for line in lines}
    assert len(served) == 1, lines
    assert any("/_stcore/upload_file/" in line for line in lines), lines
    home = replicas.by_port(served.pop())
    other = replicas.b if home is replicas.a else replicas.a

    # The same upload sent straight to the other replica is refused: its session lives on `home`.
    upload = uploads[-1]
    path = upload.url.split("/_stcore/", 1)[1]
    request = urllib.request.Request(
        f"{other.url}/_stcore/{path}",
        data=upload.post_data_buffer,
        method="PUT",
        headers={
            "Content-Type": upload.headers["content-type"],
            "X-Xsrftoken": upload.headers["x-xsrftoken"],
            "Cookie": f"_streamlit_xsrf={cookies['_streamlit_xsrf']}",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400 and "Invalid session_id" in refused.value.read().decode()

    # Enrolled through one replica, named by the other (the registry is in the database).
    live = open_app(other, "astronaut")
    live.start_camera()
    live.wait_figures(lambda f: ASTRONAUT in f.in_view, f"{ASTRONAUT} named on the other replica")


def test_counted_on_b_shows_on_a_and_delete_all_on_a_stops_b(replicas, open_app):
    if ASTRONAUT not in _people(replicas.db_url):
        pytest.skip("needs the enrollment of the previous test")
    counter = open_app(replicas.b, "astronaut")
    counter.start_camera()
    counter.wait_figures(lambda f: ASTRONAUT in f.in_view, f"{ASTRONAUT} in view on B")
    counter.set_counting(True)
    counter.wait_figures(lambda f: f.observations >= 2, "two observations on B")
    counter.set_counting(False)
    caption = counter.final_panel().get_by_text(re.compile(r"saved as session \d+"))
    expect(caption).to_be_visible()
    session_id = int(re.search(r"session (\d+)", caption.inner_text()).group(1))

    history = open_app(replicas.a, "astronaut", "History")
    wait_until(
        lambda: _sessions_after_reload(history),
        lambda rows: any(row["Session"] == str(session_id) and ASTRONAUT in row["People"] for row in rows),
        f"session {session_id} counted on B in A's History",
    )

    counter.set_counting(True)
    counter.wait_figures(lambda f: f.observations >= 1, "counting again on B")
    admin = open_app(replicas.a, "astronaut")
    admin.delete_all_records()
    expect(counter.page.get_by_text("This session was deleted on another server")).to_be_visible(timeout=20_000)
    expect(counter.counting_switch).to_be_checked(checked=False)
    counter.assert_no_exception()


def _sessions_after_reload(history) -> list[dict[str, str]]:
    """The History page's sessions table after a reload; empty while it shows none. The table is
    drawn in the browser after the script run ends, so a read right after the run can miss it."""
    history.page.reload()
    history.wait_loaded()
    table = history.page.locator(".st-key-sessions-table")
    try:
        table.locator("table").wait_for(state="attached", timeout=10_000)
    except PlaywrightTimeoutError:
        return []
    return read_table(table)


def _people(db_url: str) -> set[str]:
    from emotion_core.registry_db import DatabaseRegistry

    store = DatabaseRegistry(db_url)
    try:
        return set(store.load().people())
    finally:
        store.close()
