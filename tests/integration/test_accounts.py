"""Accounts, throttling, permissions, the audit log and the `users` CLI on real SQLite files."""

from __future__ import annotations

import getpass
import os
import pickle
import sqlite3
import subprocess
import sys

import pytest

from emotion_core.accounts import (
    FAILURE_WINDOW_S,
    MAX_ACCOUNT_FAILURES,
    MAX_CLIENT_FAILURES,
    AccountError,
    Accounts,
    SignInThrottled,
    is_loopback,
    may,
    oidc_role,
)
from emotion_core.audit import AuditLog
from emotion_core.config import load_settings
from emotion_core.errors import SettingsError
from emotion_core.store import EmotionLog, Observation
from tests.data import photos
from tests.integration.helpers import assert_bad_input, cli


def users(db_url: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    """`python -m emotion_core users ARGS` on the database at `db_url`, `password` on stdin."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EMOTION_")}
    return subprocess.run(
        [sys.executable, "-m", "emotion_core", "users", *args],
        input=password,
        env={**environment, "EMOTION_DB_URL": db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---------------------------------------------------------------- the users CLI


def test_users_add_reads_one_line_without_its_newline(db_url):
    done = users(db_url, "add", "ada", "--role", "admin", "--password-stdin", password="pass word 1\nsecond line\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "added ada (admin)\n"
    accounts = Accounts(db_url)
    assert accounts.authenticate("ada", "pass word 1", "test").role == "admin"
    with pytest.raises(AccountError):
        accounts.authenticate("ada", "pass word 1\n", "test")
    crlf = users(db_url, "add", "bob", "--role", "viewer", "--password-stdin", password="windows-pw\r\n")
    assert crlf.returncode == 0, crlf.stderr
    assert accounts.authenticate("bob", "windows-pw", "test").role == "viewer"


def test_users_list_remove_passwd(db_url):
    for name, role in (("ada", "admin"), ("olga", "operator"), ("vic", "viewer")):
        assert users(db_url, "add", name, "--role", role, "--password-stdin", password="long-enough\n").returncode == 0
    listed = users(db_url, "list")
    assert listed.stdout == "ada\tadmin\nolga\toperator\nvic\tviewer\n"
    assert users(db_url, "passwd", "vic", "--password-stdin", password="new-password\n").returncode == 0
    assert Accounts(db_url).authenticate("vic", "new-password", "test").name == "vic"
    assert users(db_url, "remove", "olga").stdout == "removed olga\n"
    assert '"name": "vic"' in users(db_url, "list", "--json").stdout
    actions = [(e.action, e.subject) for e in AuditLog(db_url).entries()]
    assert ("account-remove", "olga") in actions and ("account-passwd", "vic") in actions


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (("add", "ada", "--role", "admin"), "long-enough\n", "--password-stdin"),
        (("add", "ada", "--role", "boss", "--password-stdin"), "long-enough\n", "invalid choice"),
        (("add", "ada", "--role", "admin", "--password-stdin"), "", "no password on stdin"),
        (("add", "ada", "--role", "admin", "--password-stdin"), "short\n", "at least 8 characters"),
        (("add", "ada", "--role", "admin", "--password-stdin"), "tab\there-pw\n", "control characters"),
        (("add", "bad name!", "--role", "admin", "--password-stdin"), "long-enough\n", "not allowed"),
        (("remove", "nobody"), None, "no account named 'nobody'"),
        (("passwd", "nobody", "--password-stdin"), "long-enough\n", "no account named"),
        (("frobnicate",), None, "invalid choice"),
    ],
)
def test_users_bad_input_is_one_line_and_exit_2(db_url, args, stdin, fragment):
    done = users(db_url, *args, password=stdin)
    assert_bad_input(done, fragment)
    assert Accounts(db_url).list() == []


def test_users_add_twice_and_removing_the_only_admin_are_refused(db_url):
    assert users(db_url, "add", "ada", "--role", "admin", "--password-stdin", password="long-enough\n").returncode == 0
    assert_bad_input(users(db_url, "add", "ada", "--role", "viewer", "--password-stdin", password="x" * 9), "exists")
    assert users(db_url, "add", "vic", "--role", "viewer", "--password-stdin", password="long-enough\n").returncode == 0
    assert_bad_input(users(db_url, "remove", "ada"), "only admin")
    assert [a.name for a in Accounts(db_url).list()] == ["ada", "vic"]


def test_forget_on_the_command_line_pseudonymises_the_audit_log(tmp_path, db_url):
    faces = tmp_path / "faces.pkl"
    assert (
        cli("enroll", "Joe Biden", photos("joe_biden")[0], faces=faces, env={"EMOTION_DB_URL": db_url}).returncode == 0
    )
    AuditLog(db_url).record("ada", "enroll", subject="Joe Biden", client="10.0.0.2")
    done = cli("forget", "Joe Biden", faces=faces, env={"EMOTION_DB_URL": db_url})
    assert done.returncode == 0, done.stderr
    alias = AuditLog(db_url).pseudonym("Joe Biden")
    assert alias in done.stdout
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT actor, action, subject, client FROM audit_log ORDER BY id").fetchall()
    assert [(action, subject) for _, action, subject, _ in rows] == [
        ("enroll", alias),  # the command line's own entry
        ("enroll", alias),
        ("forget", alias),
    ]
    assert "Joe Biden" not in repr(rows)


def test_command_line_enroll_calibrate_and_exports_are_audited(tmp_path, db_url):
    env = {"EMOTION_DB_URL": db_url}
    faces = tmp_path / "faces.pkl"
    log = EmotionLog(db_url)
    session = log.start_session(1.0, "faceapi", {})
    log.add_observations(session, [Observation(1.0, "Joe Biden", "Happy", 0.9), Observation(2.0, "Ann", "Sad", 0.8)])
    assert log.flush()
    log.close()
    commands = [
        ("enroll", "Joe Biden", *photos("joe_biden")[:2]),
        ("calibrate", "Joe Biden", photos("joe_biden")[0], "--model", "faceapi"),
        ("calibrate", "--clear", "Joe Biden"),
        ("faces", "export", tmp_path / "copy.pkl"),
        ("faces", "import", tmp_path / "copy.pkl"),
        ("export", session, "--csv", tmp_path / "session.csv"),
        ("report", session, "--format", "pdf", "--out", tmp_path / "session.pdf"),
    ]
    for command in commands:
        done = cli(*command, faces=faces, env=env)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stderr == "", done.stderr
    entries = AuditLog(db_url).entries()[::-1]
    user = f"{getpass.getuser()} (command line)"
    assert {(e.actor, e.client, e.outcome) for e in entries} == {(user, "command line", "ok")}
    assert [(e.action, e.subject, e.detail) for e in entries] == [
        ("enroll", "Joe Biden", "2 face encoding(s)"),
        ("calibrate", "Joe Biden", "1 frames"),
        ("calibrate", "Joe Biden", "baseline cleared"),
        ("export", "enrolled faces", f"1 people, 2 encodings to {tmp_path / 'copy.pkl'}"),
        ("enroll", "Joe Biden", f"2 face encoding(s) imported from {tmp_path / 'copy.pkl'}"),
        ("export", f"session {session}", "CSV, 2 observations"),
        ("export", f"session {session}", "PDF report, 2 observations"),
    ]


# ---------------------------------------------------------------- accounts and throttling


def test_throttle_per_account_and_per_client_and_the_window(db_url):
    accounts = Accounts(db_url)
    accounts.add("ada", "admin", "right-password", now=0)
    for n in range(MAX_ACCOUNT_FAILURES):
        with pytest.raises(AccountError, match="wrong username or password"):
            accounts.authenticate("ada", "wrong", f"10.0.0.{n}", now=1000 + n)
    with pytest.raises(SignInThrottled) as throttled:
        accounts.authenticate("ada", "right-password", "10.0.0.99", now=1010)  # from anywhere
    assert 0 < throttled.value.retry_after <= FAILURE_WINDOW_S
    assert accounts.authenticate("ada", "right-password", "10.0.0.99", now=1000 + FAILURE_WINDOW_S + 5).name == "ada"

    accounts.add("vic", "viewer", "vic-password", now=0)
    for n in range(MAX_CLIENT_FAILURES):  # one client guessing many names
        with pytest.raises(AccountError):
            accounts.authenticate(f"guess{n}", "wrong", "10.9.9.9", now=5000 + n)
    with pytest.raises(SignInThrottled, match="your address"):
        accounts.authenticate("vic", "vic-password", "10.9.9.9", now=5020)
    assert accounts.authenticate("vic", "vic-password", "10.1.1.1", now=5020).name == "vic"


def test_passwords_are_argon2_hashes_never_plain(db_url):
    Accounts(db_url).add("ada", "admin", "plain-text-password")
    with sqlite3.connect(db_url.removeprefix("sqlite:///")) as db:
        (hashed,) = db.execute("SELECT password_hash FROM auth_users").fetchone()
    assert hashed.startswith("$argon2id$") and "plain-text-password" not in hashed


def test_permissions_per_role():
    assert may("admin", "delete") and may("admin", "access") and may("admin", "enroll")
    assert may("operator", "live") and not may("operator", "enroll") and may("operator", "enroll", True)
    assert not may("operator", "forget", True) and not may("operator", "delete") and not may("operator", "history")
    assert may("viewer", "history") and may("viewer", "export")
    assert not any(may("viewer", a, True) for a in ("live", "enroll", "forget", "delete", "access", "calibrate"))
    assert not may(None, "history") and not may("admin", "no-such-action")


def test_loopback_addresses():
    assert all(is_loopback(a) for a in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(a) for a in ("", None, "0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_oidc_roles_mapping_and_validation():
    settings = load_settings(
        {
            "EMOTION_OIDC_ROLES": '{"admin": ["Ada@Example.org"], "operator": ["group:cam-ops"],'
            ' "viewer": ["*@example.org"]}'
        }
    )
    roles = dict(settings.oidc_roles)
    assert pickle.loads(pickle.dumps(settings)) == settings  # settings travel to the analysis process
    assert oidc_role({"email": "ada@example.org", "email_verified": True}, roles) == "admin"
    assert oidc_role({"email": "bob@example.org"}, roles) == "viewer"
    assert oidc_role({"email": "bob@example.org", "groups": ["cam-ops"]}, roles) == "operator"
    assert oidc_role({"email": "ada@example.org", "email_verified": False}, roles) is None
    assert oidc_role({"email": "eve@elsewhere.net"}, roles) is None
    for bad in ('{"root": ["a@b.c"]}', '{"admin": "a@b.c"}', '{"admin": [""]}', "[1]", "{"):
        with pytest.raises(SettingsError):
            load_settings({"EMOTION_OIDC_ROLES": bad})
    for variable, bad in (("EMOTION_AUTH", "maybe"), ("EMOTION_SESSION_IDLE", "5"), ("EMOTION_SESSION_IDLE", "x")):
        with pytest.raises(SettingsError):
            load_settings({variable: bad})
    assert load_settings({"EMOTION_AUTH": "required", "EMOTION_SESSION_IDLE": "600"}).session_idle_s == 600


def test_audit_log_survives_deleting_every_emotion_record(db_url):
    from emotion_core.store import EmotionLog

    audit = AuditLog(db_url)
    audit.record("ada", "delete-all", subject="all emotion records", client="10.0.0.1")
    log = EmotionLog(db_url)
    log.delete_all()
    log.close()
    assert [e.action for e in AuditLog(db_url).entries()] == ["delete-all"]
    assert audit.pseudonym("Alice") == AuditLog(db_url).pseudonym("Alice") != audit.pseudonym("Bob")
