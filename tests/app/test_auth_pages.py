"""Access control under AppTest: the sign-in gate on every page, each role's pages and actions,
forbidden actions invoked directly (widget events and callbacks), throttling, expiry, the audit log."""

from __future__ import annotations

import pytest
import streamlit.config
from streamlit.testing.v1 import AppTest

from emotion_core.accounts import MAX_ACCOUNT_FAILURES, Accounts
from emotion_core.audit import AuditLog
from emotion_core.registry import load_registry
from emotion_core.store import EmotionLog
from tests.app.apphelpers import PERSON, button, labels_of, record_session, texts
from tests.app.conftest import APP_TIMEOUT_S
from tests.data import PROJECT_ROOT
from ui import auth, keys

PAGES = [
    "app.py",
    "ui/pages/live.py",
    "ui/pages/enroll.py",
    "ui/pages/video.py",
    "ui/pages/history.py",
    "ui/pages/access.py",
]
PASSWORDS = {"ada": "ada-password", "olga": "olga-password", "vic": "vic-password"}
ROLES = {"ada": "admin", "olga": "operator", "vic": "viewer"}


@pytest.fixture
def required(app_env, monkeypatch, db_url) -> Accounts:
    """EMOTION_AUTH=required, with an admin (ada), an operator (olga) and a viewer (vic)."""
    monkeypatch.setenv("EMOTION_AUTH", "required")
    accounts = Accounts(db_url)
    for name, role in ROLES.items():
        accounts.add(name, role, PASSWORDS[name])
    return accounts


def fresh(path: str) -> AppTest:
    return AppTest.from_file(str(PROJECT_ROOT / path), default_timeout=APP_TIMEOUT_S).run()


def sign_in(at: AppTest, name: str, password: str | None = None) -> AppTest:
    """Fill the sign-in form and press Sign in."""
    fields = {field.label: field for field in at.text_input}
    fields["Username"].input(name)
    fields["Password"].input(PASSWORDS.get(name, "") if password is None else password)
    return button(at, "Sign in").click().run()


def assert_only_sign_in_form(at: AppTest) -> None:
    assert not at.exception
    assert [field.label for field in at.text_input] == ["Username", "Password"]
    assert labels_of(at) == ["Sign in"]
    assert [t.value for t in at.title] == ["Sign in"]
    assert len(at.dataframe) == 0 and len(at.toggle) == 0 and len(at.sidebar.button) == 0


def audit_entries(db_url: str) -> list[tuple[str, str, str, str]]:
    return [(e.actor, e.action, e.subject, e.outcome) for e in AuditLog(db_url).entries()]


@pytest.mark.parametrize("path", PAGES)
def test_without_signing_in_every_page_shows_only_the_sign_in_form(required, path):
    assert_only_sign_in_form(fresh(path))


def test_required_without_any_account_still_gives_the_form_and_says_how_to_add_one(app_env, monkeypatch):
    monkeypatch.setenv("EMOTION_AUTH", "required")
    at = fresh("app.py")
    assert_only_sign_in_form(at)
    assert auth.FIRST_ADMIN_COMMAND in texts(at) or any(auth.FIRST_ADMIN_COMMAND in i.value for i in at.info)


def test_auto_on_a_public_address_without_accounts_serves_only_the_first_admin_page(app_env, monkeypatch):
    monkeypatch.delenv("EMOTION_AUTH", raising=False)
    streamlit.config.set_option("server.address", "0.0.0.0")
    try:
        at = fresh("app.py")
    finally:
        streamlit.config.set_option("server.address", "127.0.0.1")
    assert not at.exception
    assert [t.value for t in at.title] == ["Create the first admin"]
    assert auth.FIRST_ADMIN_COMMAND in [c.value for c in at.code]
    assert labels_of(at) == [] and len(at.text_input) == 0


def test_auto_on_loopback_keeps_the_no_sign_in_app(app_env, monkeypatch, db_url):
    monkeypatch.delenv("EMOTION_AUTH", raising=False)
    Accounts(db_url).add("ada", "admin", PASSWORDS["ada"])
    at = fresh("app.py")
    assert [t.value for t in at.title] == ["Live emotion recognition"]
    assert "Delete all emotion records" in labels_of(at) and "Sign out" not in labels_of(at)


def test_none_shows_a_red_banner_on_every_page(app_env, monkeypatch):
    monkeypatch.setenv("EMOTION_AUTH", "none")
    for path in (p for p in PAGES if p != "ui/pages/live.py"):  # live.py alone cannot link to Enroll
        at = fresh(path)
        assert not at.exception
        assert any("Sign-in is turned off" in e.value for e in at.error)


def test_wrong_password_is_refused_then_the_account_is_throttled(required, db_url):
    at = fresh("app.py")
    for _ in range(MAX_ACCOUNT_FAILURES):
        at = sign_in(at, "ada", "not-the-password")
        assert [e.value for e in at.error] == ["Wrong username or password."]
    at = sign_in(at, "ada")  # the right password, but too late
    assert "Too many failed sign-ins" in at.error[0].value
    assert_only_sign_in_form(at)
    outcomes = [outcome for actor, action, _, outcome in audit_entries(db_url) if action == "sign-in"]
    assert outcomes == ["refused"] + ["failed"] * MAX_ACCOUNT_FAILURES
    # Another account from the same client is not locked by ada's failures (below the client limit).
    at = sign_in(at, "vic")
    assert [t.value for t in at.title] == ["History"]


def test_viewer_gets_history_and_no_delete_button_anywhere(required, db_url):
    record_session(db_url, [("Alice", "Happy"), ("Bob", "Sad")], start=1_700_000_000)
    at = sign_in(fresh("app.py"), "vic")
    assert not at.exception
    assert [t.value for t in at.title] == ["History"]
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert not [label for label in labels_of(at) if "Delete" in label]
    # A forged confirmation state does not bring the delete buttons back.
    at.session_state["delete_session_pending"] = EmotionLog(db_url).sessions()[0].id
    at.session_state["delete_all_pending"] = True
    at = at.run()
    assert not [label for label in labels_of(at) if "Delete" in label]
    # Pages outside the role, run directly in a signed-in session, refuse and audit.
    for path in ("app.py", "ui/pages/enroll.py", "ui/pages/access.py"):
        direct = sign_in(fresh(path), "vic")
        assert not [label for label in labels_of(direct) if "Delete" in label]
        if path != "app.py":  # app.py's navigation sends a viewer to History instead
            assert any("Not allowed: the viewer role" in e.value for e in direct.error), path
    refused = {action for actor, action, _, outcome in audit_entries(db_url) if outcome == "refused"}
    assert {"enroll", "access"} <= refused


def test_a_viewer_session_firing_the_delete_callback_is_refused_and_audited(required, db_url):
    record_session(db_url, [("Alice", "Happy")], start=1_700_000_000)
    session_id = EmotionLog(db_url).sessions()[0].id
    at = sign_in(fresh("ui/pages/history.py"), "ada")
    at = button(at, "Delete this session").click().run()
    assert f"Yes, delete session {session_id}" in labels_of(at)
    # The same browser session now acts as the viewer (as a viewer's crafted widget event would).
    vic = required.get("vic")
    at.session_state[keys.PRINCIPAL] = auth.Principal(vic.name, vic.role, "local", vic.changed_at, 9e18)
    at = button(at, f"Yes, delete session {session_id}").click().run()
    assert [info.id for info in EmotionLog(db_url).sessions()] == [session_id]
    assert ("vic", "delete", f"session {session_id}", "refused") in audit_entries(db_url)
    assert not [label for label in labels_of(at) if "Delete" in label]


def test_delete_all_callback_refused_for_an_operator(required, db_url):
    record_session(db_url, [("Alice", "Happy")], start=1_700_000_000)
    at = sign_in(fresh("app.py"), "ada")
    at = button(at, "Delete all emotion records").click().run()
    olga = required.get("olga")
    at.session_state[keys.PRINCIPAL] = auth.Principal(olga.name, olga.role, "local", olga.changed_at, 9e18)
    at = button(at, "Yes, delete everything").click().run()
    assert len(EmotionLog(db_url).sessions()) == 1
    assert ("olga", "delete", "all emotion records", "refused") in audit_entries(db_url)


def test_operator_gets_live_and_enrolls_only_when_the_admin_allows_it(required, enrolled, faces_path, db_url):
    at = sign_in(fresh("app.py"), "olga")
    assert [t.value for t in at.title] == ["Live emotion recognition"]
    assert at.toggle(key="count_emotions").label == "Count emotions"
    assert not [label for label in labels_of(at) if "Delete" in label]
    enroll = sign_in(fresh("ui/pages/enroll.py"), "olga")
    assert any("Not allowed: the operator role may not enroll people" in e.value for e in enroll.error)

    required.set_operators_may_enroll(True)
    enroll = sign_in(fresh("ui/pages/enroll.py"), "olga")
    assert [t.value for t in enroll.title] == ["Enroll"] and not enroll.error
    assert "Enroll" in labels_of(enroll)
    assert not [label for label in labels_of(enroll) if "Delete" in label]  # forgetting stays an admin's
    # The admin turns it off again: the operator's next press of Enroll is refused and audited.
    required.set_operators_may_enroll(False)
    enroll.text_input(key="enroll_name_0").input("Someone New")
    enroll = button(enroll, "Enroll").click().run()
    assert any("Not allowed" in e.value for e in enroll.error)
    assert audit_entries(db_url).count(("olga", "enroll", "", "refused")) == 2  # before, and at the press
    assert "Someone New" not in load_registry(faces_path).people()


def test_admin_has_every_page_and_the_audit_log(required, db_url):
    at = sign_in(fresh("app.py"), "ada")
    assert [t.value for t in at.title] == ["Live emotion recognition"]
    assert "Delete all emotion records" in labels_of(at)
    access = sign_in(fresh("ui/pages/access.py"), "ada")
    assert not access.exception
    assert [t.value for t in access.title] == ["Access and audit log"]
    log = access.dataframe[-1].value
    assert {"sign-in"} <= set(log["What"]) and "ada" in set(log["Who"])
    assert set(access.dataframe[0].value["Account"]) == set(ROLES)
    access.toggle(key="operators_may_enroll").set_value(True).run()
    assert required.operators_may_enroll()
    assert ("ada", "setting", "operators may enroll", "ok") in audit_entries(db_url)


def test_idle_session_expires(required):
    at = sign_in(fresh("ui/pages/history.py"), "vic")
    assert [t.value for t in at.title] == ["History"]
    at.session_state[keys.PRINCIPAL].last_seen -= 10 * 3600
    at = at.run()
    assert_only_sign_in_form(at)
    assert any("signed out after a while" in i.value for i in at.info)


def test_changed_password_signs_the_account_out(required):
    at = sign_in(fresh("ui/pages/history.py"), "vic")
    required.set_password("vic", "another-password")
    assert_only_sign_in_form(at.run())


def test_sign_out(required, db_url):
    at = sign_in(fresh("app.py"), "vic")
    at = at.sidebar.button[0].click().run()
    assert_only_sign_in_form(at)
    assert ("vic", "sign-out", "", "ok") in audit_entries(db_url)


def test_forgetting_a_person_pseudonymises_the_audit_log(app_env, enrolled, db_url, faces_path):
    AuditLog(db_url).record("ada", "enroll", subject=PERSON)
    at = fresh("ui/pages/enroll.py")  # loopback: the local admin
    at.selectbox(key="forget_person").select(PERSON)
    at = button(at.run(), "Delete person").click().run()
    at = button(at, f"Yes, delete {PERSON}").click().run()
    assert not at.exception
    assert load_registry(faces_path).people() == {}
    entries = audit_entries(db_url)
    assert all(PERSON not in " ".join(entry) for entry in entries)
    alias = AuditLog(db_url).pseudonym(PERSON)
    assert [(action, subject) for _, action, subject, _ in entries] == [("forget", alias), ("enroll", alias)]
