"""Who may do what: roles and their permissions, local accounts with argon2 password hashes,
the sign-in throttle and the access settings an admin changes; all in the emotion database.

The tables live beside the emotion log's (same `EMOTION_DB_URL`) and are created when missing.
See docs/access-control.md.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, Double, Integer, MetaData, String, Table, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .config import ROLES
from .database import database_error, shared_engine
from .errors import EmotionCoreError

ADMIN, OPERATOR, VIEWER = ROLES

PERMISSIONS: dict[str, frozenset[str]] = {
    "live": frozenset({ADMIN, OPERATOR}),  # the Live page: camera, counting, final scores
    "enroll": frozenset({ADMIN}),  # operators too while `operators_may_enroll` is on
    "forget": frozenset({ADMIN}),
    "calibrate": frozenset({ADMIN}),
    "history": frozenset({ADMIN, VIEWER}),
    "export": frozenset({ADMIN, VIEWER}),
    "delete": frozenset({ADMIN}),  # one session or every emotion record
    "access": frozenset({ADMIN}),  # the audit log and the access settings
}
"""Action -> the roles allowed to do it."""

MAX_ACCOUNT_FAILURES = 5
"""Failed sign-ins of one account within `FAILURE_WINDOW_S` before it is refused for a while."""
MAX_CLIENT_FAILURES = 10
"""Failed sign-ins from one client address within `FAILURE_WINDOW_S` before it is refused."""
FAILURE_WINDOW_S = 15 * 60.0
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
OPERATORS_MAY_ENROLL = "operators_may_enroll"
T = TypeVar("T")

metadata = MetaData()
users_table = Table(
    "auth_users",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("changed_at", Double, nullable=False),
)
failures_table = Table(
    "auth_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("account", String(64), nullable=False, index=True),
    Column("client", String(64), nullable=False, index=True),
)
settings_table = Table(
    "auth_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(400), nullable=False),
)


class AccountError(EmotionCoreError):
    """An account change or a sign-in was refused (message safe to show)."""


class SignInThrottled(AccountError):
    """Too many failed sign-ins for the account or from the client; try again after `retry_after` s."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Account:
    """A local account (its password hash stays in the database)."""

    name: str
    role: str
    changed_at: float  # when the account was created or its password or role last changed


def may(role: str | None, action: str, operators_may_enroll: bool = False) -> bool:
    """Whether `role` is allowed `action` (an unknown action is allowed to nobody)."""
    if role is None:
        return False
    if action == "enroll" and role == OPERATOR and operators_may_enroll:
        return True
    return role in PERMISSIONS.get(action, frozenset())


def is_loopback(address: str | None) -> bool:
    """Whether a server address only accepts connections from this machine ("" = every interface)."""
    if not address:
        return False
    if address.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to may be reachable from elsewhere


def validate_name(name: str) -> str:
    """Return `name` as an account name, or raise `AccountError`."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise AccountError(
            f"account name {name!r} is not allowed: 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def validate_role(role: str) -> str:
    """Return `role`, or raise `AccountError` if it is not one of `ROLES`."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return role


def validate_password(password: str) -> str:
    """Return `password`, or raise `AccountError` if it is too short, too long or has control characters."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"the password must have at most {MAX_PASSWORD} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise AccountError("the password must not contain control characters (tabs, line breaks…)")
    return password


class Accounts:
    """Local accounts, the sign-in throttle and the access settings in the database at `url`."""

    def __init__(self, url: str) -> None:
        """Open the database (creating the tables if missing); `StoreError` if it cannot be used."""
        self._engine = shared_engine(url, metadata)
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash("not a password of anyone")

    def _run(self, doing: str, work: Callable[[Connection], T]) -> T:
        try:
            with self._engine.begin() as conn:
                return work(conn)
        except SQLAlchemyError as exc:
            raise database_error(doing, exc) from None

    # -- accounts ------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, now: float | None = None) -> Account:
        """Create an account; `AccountError` for a bad or taken name, role or password."""
        account = Account(validate_name(name), validate_role(role), time.time() if now is None else now)
        hashed = self._hasher.hash(validate_password(password))
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(users_table).values(
                        name=account.name, role=account.role, password_hash=hashed, changed_at=account.changed_at
                    )
                )
        except IntegrityError:
            raise AccountError(f"account {name!r} already exists (change its password with `users passwd`)") from None
        except SQLAlchemyError as exc:
            raise database_error("store the account", exc) from None
        return account

    def set_password(self, name: str, password: str) -> None:
        """Replace the password of account `name` (signing out its browser sessions)."""
        hashed = self._hasher.hash(validate_password(password))
        self._update(name, password_hash=hashed)

    def set_role(self, name: str, role: str) -> None:
        """Give account `name` another role (its browser sessions get it on their next action)."""
        if validate_role(role) != ADMIN:
            self._keep_an_admin(name)
        self._update(name, role=role)

    def _update(self, name: str, **values: str) -> None:
        def work(conn: Connection) -> int:
            return conn.execute(
                update(users_table).where(users_table.c.name == name).values(changed_at=time.time(), **values)
            ).rowcount

        if self._run("change the account", work) == 0:
            raise AccountError(f"no account named {name!r}")

    def remove(self, name: str) -> None:
        """Delete account `name`; the last admin cannot be removed while other accounts exist."""
        self._keep_an_admin(name)
        if (
            self._run(
                "remove the account", lambda c: c.execute(delete(users_table).where(users_table.c.name == name))
            ).rowcount
            == 0
        ):
            raise AccountError(f"no account named {name!r}")

    def _keep_an_admin(self, name: str) -> None:
        accounts = self.list()
        admins = [a.name for a in accounts if a.role == ADMIN]
        if admins == [name] and len(accounts) > 1:
            raise AccountError(f"{name!r} is the only admin: add another admin first")

    def get(self, name: str) -> Account | None:
        """The account called `name`, or None."""
        u = users_table
        row = self._run(
            "read the accounts",
            lambda c: c.execute(select(u.c.name, u.c.role, u.c.changed_at).where(u.c.name == name)).first(),
        )
        return Account(*row) if row is not None else None

    def list(self) -> list[Account]:
        """Every account, by name."""
        u = users_table
        rows = self._run(
            "read the accounts",
            lambda c: c.execute(select(u.c.name, u.c.role, u.c.changed_at).order_by(u.c.name)).all(),
        )
        return [Account(*row) for row in rows]

    def count(self) -> int:
        """How many accounts there are."""
        return int(
            self._run(
                "read the accounts", lambda c: c.execute(select(func.count()).select_from(users_table)).scalar_one()
            )
        )

    # -- signing in ----------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, client: str, now: float | None = None) -> Account:
        """The account if `password` is right and neither the account nor the client is throttled.

        Raises `SignInThrottled` while too many sign-ins failed recently (the password is then not
        even checked), `AccountError` for a wrong name or password (one message for both).
        """
        now = time.time() if now is None else now
        name, client = name.strip()[:64], client[:64]
        self._check_throttle(name, client, now)
        u = users_table
        row = self._run(
            "read the accounts",
            lambda c: c.execute(
                select(u.c.name, u.c.role, u.c.changed_at, u.c.password_hash).where(u.c.name == name)
            ).first(),
        )
        try:
            # An unknown name costs the same hash check, so timing does not tell which names exist.
            self._hasher.verify(row.password_hash if row is not None else self._dummy_hash, password)
            if row is None:
                raise VerificationError("unknown account")
        except (VerificationError, InvalidHashError):
            self._run(
                "record the failed sign-in",
                lambda c: c.execute(insert(failures_table).values(at=now, account=name, client=client)),
            )
            raise AccountError("wrong username or password") from None
        self._run(
            "record the sign-in",
            lambda c: c.execute(delete(failures_table).where(failures_table.c.account == name)),
        )
        return Account(row.name, row.role, row.changed_at)

    def _check_throttle(self, name: str, client: str, now: float) -> None:
        f = failures_table
        since = now - FAILURE_WINDOW_S

        def read(conn: Connection) -> tuple[list[float], list[float]]:
            conn.execute(delete(f).where(f.c.at < since))
            by_account = list(conn.scalars(select(f.c.at).where(f.c.account == name, f.c.at >= since)))
            by_client = list(conn.scalars(select(f.c.at).where(f.c.client == client, f.c.at >= since)))
            return by_account, by_client

        by_account, by_client = self._run("read the failed sign-ins", read)
        for times, limit, what in (
            (by_account, MAX_ACCOUNT_FAILURES, "this account"),
            (by_client, MAX_CLIENT_FAILURES, "your address"),
        ):
            if len(times) >= limit:
                retry = sorted(times)[-limit] + FAILURE_WINDOW_S - now
                raise SignInThrottled(
                    f"too many failed sign-ins for {what}: try again in {max(1, round(retry / 60))} min", retry
                )

    # -- settings ------------------------------------------------------------------------------

    def operators_may_enroll(self) -> bool:
        """Whether operators may enroll people (off until an admin turns it on)."""
        s = settings_table
        value = self._run(
            "read the access settings",
            lambda c: c.execute(select(s.c.value).where(s.c.key == OPERATORS_MAY_ENROLL)).scalar_one_or_none(),
        )
        return value == "1"

    def set_operators_may_enroll(self, allowed: bool) -> None:
        """Allow or forbid enrollment by operators."""
        s = settings_table

        def work(conn: Connection) -> None:
            conn.execute(delete(s).where(s.c.key == OPERATORS_MAY_ENROLL))
            conn.execute(insert(s).values(key=OPERATORS_MAY_ENROLL, value="1" if allowed else "0"))

        self._run("change the access settings", work)


def best_role(roles: Iterable[str]) -> str | None:
    """The most powerful of `roles`, None if there is none."""
    held = set(roles)
    return next((role for role in ROLES if role in held), None)


def oidc_role(claims: dict, mapping: dict[str, tuple[str, ...]]) -> str | None:
    """The role an OpenID Connect identity gets from `mapping` (see `Settings.oidc_roles`), or None.

    An e-mail address the provider marks as unverified (`email_verified` false) matches nothing
    but groups.
    """
    email = str(claims.get("email") or "").strip().lower()
    if claims.get("email_verified") is False:
        email = ""
    groups = claims.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    wanted = {f"group:{str(group).strip().lower()}" for group in groups}
    if email:
        wanted |= {email, "*@" + email.rsplit("@", 1)[-1]}
    return best_role(role for role, identities in mapping.items() if wanted & set(identities))
