"""Sign-in and role checks on the server side for every page and every action.

app.py wraps the navigation in `gate()`, which signs the browser session in (local account or
OpenID Connect) or serves only the sign-in page. Pages start with `require(action)`, which runs
the gate itself when a page runs without app.py. Callbacks that change or export data start with
`permit(action)`: a widget event from a browser session whose role does not allow the action is
refused and audited, whatever the page showed. See docs/access-control.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from emotion_core.accounts import (
    ADMIN,
    Account,
    AccountError,
    Accounts,
    SignInThrottled,
    is_loopback,
    may,
    oidc_role,
)
from emotion_core.audit import FAILED, OK, REFUSED, AuditLog
from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError

from . import keys, resources

logger = logging.getLogger("emotion_core.ui")

NOT_SIGNED_IN = "(not signed in)"
ACTION_TEXT = {
    "live": "use the live page",
    "enroll": "enroll people",
    "forget": "delete people",
    "calibrate": "calibrate people",
    "history": "read the history",
    "export": "export records",
    "delete": "delete emotion records",
    "access": "see the audit log or change access settings",
}
FIRST_ADMIN_COMMAND = "python -m emotion_core users add admin --role admin --password-stdin"


@dataclass
class Principal:
    """Who this browser session acts as."""

    name: str
    role: str
    source: str  # "local" account, "oidc", or "open" (sign-in not required)
    changed_at: float | None = None  # the local account's version when it signed in
    last_seen: float = 0.0


@dataclass(frozen=True)
class PageSpec:
    """A page of the navigation and the action it needs."""

    action: str
    page: Callable[[], None] | str  # a page function or a script path, as st.Page takes it
    title: str
    icon: str
    url_path: str | None = None  # None: the default page's ""


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_accounts(url: str) -> Accounts:
    return Accounts(url)


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_audit(url: str) -> AuditLog:
    return AuditLog(url)


def accounts(config: Settings) -> Accounts:
    """The accounts in the configured database; `StoreError` when it cannot be used."""
    return _open_accounts(config.db_url)


def audit_log(config: Settings) -> AuditLog:
    """The audit log in the configured database; `StoreError` when it cannot be used."""
    return _open_audit(config.db_url)


def sign_in_required(config: Settings) -> bool:
    """`EMOTION_AUTH`: required, none, or auto (required unless the server listens on loopback only)."""
    if config.auth != "auto":
        return config.auth == "required"
    return not is_loopback(st.get_option("server.address"))


def oidc_configured() -> bool:
    """Whether `[auth]` (OpenID Connect for `st.login`) is in .streamlit/secrets.toml."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file: Streamlit reports it itself
        return False


def client_address() -> str:
    """The remote address of this browser session ("loopback" for this machine).

    Behind a reverse proxy this is the proxy's address (docs/access-control.md).
    """
    try:
        address = st.context.ip_address
    except Exception:  # no request context (bare script run)
        address = None
    return address if isinstance(address, str) and address else "loopback"


def audit(actor: str, action: str, *, subject: str = "", outcome: str = OK, detail: str = "") -> None:
    """Record one audit entry from this browser session; a failing database is logged, not fatal."""
    try:
        audit_log(resources.settings()).record(
            actor, action, subject=subject, outcome=outcome, client=client_address(), detail=detail
        )
    except EmotionCoreError as exc:
        logger.warning("audit entry not stored (%s %s %s): %s", actor, action, outcome, exc)


def _open_principal(config: Settings) -> Principal:
    name = "anyone (EMOTION_AUTH=none)" if config.auth == "none" else "local user (loopback, no sign-in)"
    return Principal(name, ADMIN, "open", last_seen=time.time())


def _sign_out(principal: Principal, detail: str) -> None:
    audit(principal.name, "sign-out", detail=detail)
    for key in list(st.session_state):
        del st.session_state[key]  # nothing of this user stays for the next one in this browser
    if principal.source == "oidc":
        st.logout()


def _oidc_principal(config: Settings) -> Principal | None:
    claims = st.user.to_dict()
    name = str(claims.get("email") or claims.get("sub") or "unknown")
    role = oidc_role(claims, dict(config.oidc_roles))
    if st.session_state.get(keys.OIDC_SEEN) != name:
        st.session_state[keys.OIDC_SEEN] = name
        audit(name, "sign-in", outcome=OK if role else REFUSED, detail="OpenID Connect" + ("" if role else ", no role"))
    if role is None:
        return None
    principal = Principal(name, role, "oidc", last_seen=time.time())
    st.session_state[keys.PRINCIPAL] = principal
    return principal


def current(config: Settings) -> Principal | None:
    """Who this browser session is, after checking expiry and the account; None when signed out."""
    if not sign_in_required(config):
        return _open_principal(config)
    now = time.time()
    principal: Principal | None = st.session_state.get(keys.PRINCIPAL)
    if principal is None:
        if oidc_configured() and st.user.is_logged_in:
            return _oidc_principal(config)
        return None
    if now - principal.last_seen > config.session_idle_s:
        _sign_out(principal, f"idle for more than {config.session_idle_s / 60:.0f} min")
        resources.flash("info", "You were signed out after a while without activity. Sign in again.")
        return None
    if principal.source == "local":
        try:
            account: Account | None = accounts(config).get(principal.name)
        except EmotionCoreError as exc:
            st.error(f"The accounts database cannot be used: {exc}")
            st.stop()
        if account is None or account.changed_at != principal.changed_at:
            _sign_out(principal, "account removed or changed")
            resources.flash("info", "Your account was changed or removed. Sign in again.")
            return None
    elif principal.source == "oidc" and not st.user.is_logged_in:
        st.session_state.pop(keys.PRINCIPAL, None)
        return None
    principal.last_seen = now
    return principal


def _operators_may_enroll(config: Settings) -> bool:
    try:
        return accounts(config).operators_may_enroll()
    except EmotionCoreError:
        return False


def allowed(action: str, principal: Principal | None = None) -> bool:
    """Whether this browser session may do `action` (for what to show; actions still `permit`)."""
    config = resources.settings()
    principal = principal if principal is not None else current(config)
    if principal is None:
        return False
    return may(principal.role, action, action == "enroll" and _operators_may_enroll(config))


def _refuse(principal: Principal | None, action: str, subject: str) -> str:
    audit(principal.name if principal else NOT_SIGNED_IN, action, subject=subject, outcome=REFUSED)
    if principal is None:
        return "Not allowed: you are not signed in (any more). Sign in again."
    return f"Not allowed: the {principal.role} role may not {ACTION_TEXT.get(action, action)}."


def permit(action: str, subject: str = "") -> Principal | None:
    """For callbacks: the principal if it may do `action`, else None (refusal audited and flashed)."""
    principal = current(resources.settings())
    if principal is not None and allowed(action, principal):
        return principal
    resources.flash("error", _refuse(principal, action, subject))
    return None


def require(action: str) -> Principal:
    """For pages: the principal if it may do `action`; otherwise the sign-in form or a refusal, and stop."""
    config = resources.settings()
    if not st.session_state.get(keys.GATED):
        _gate(config)
    principal = current(config)
    if principal is None or not allowed(action, principal):
        st.error(_refuse(principal, action, ""), icon=":material/block:")
        st.stop()
    return principal


@contextmanager
def gate(config: Settings, specs: Sequence[PageSpec] = ()) -> Iterator[Principal]:
    """Sign this browser session in (or serve only the sign-in page) around the page navigation.

    Signed out, every page's URL serves the sign-in form, and the page itself once signed in.
    """
    principal = _gate(config, specs)
    st.session_state[keys.GATED] = True
    try:
        yield principal
    finally:
        st.session_state.pop(keys.GATED, None)


def navigation(principal: Principal, specs: Sequence[PageSpec]) -> list[st.Page]:
    """The pages `principal` may open (the first is the default page)."""
    pages: list[st.Page] = []
    for spec in specs:
        if allowed(spec.action, principal):
            pages.append(
                st.Page(spec.page, title=spec.title, icon=spec.icon, url_path=spec.url_path, default=not pages)
            )
    if not pages:
        pages.append(st.Page(_no_page, title="No access", icon=":material/block:", default=True))
    return pages


def _gate(config: Settings, specs: Sequence[PageSpec] = ()) -> Principal:
    if config.auth == "none":
        st.error(
            "**Sign-in is turned off** (`EMOTION_AUTH=none`): anyone who reaches this address can see, "
            "export and delete everything. See docs/access-control.md.",
            icon=":material/lock_open:",
        )
    if not sign_in_required(config):
        return _open_principal(config)
    principal = current(config)
    if principal is not None:
        with st.sidebar:
            st.caption(f":material/account_circle: **{principal.name}** · {principal.role}")
            st.button("Sign out", icon=":material/logout:", key=keys.SIGN_OUT, on_click=_sign_out_clicked)
        return principal
    try:
        have_accounts = accounts(config).count() > 0
    except EmotionCoreError as exc:
        st.error(f"The accounts database cannot be used, so nobody can sign in: {exc}")
        st.stop()
    if config.auth == "auto" and not have_accounts and not oidc_configured():
        page = st.Page(_first_admin_page, title="Create the first admin", icon=":material/admin_panel_settings:")
    elif oidc_configured() and st.user.is_logged_in:
        page = st.Page(_no_role_page, title="No access", icon=":material/block:")
    else:
        paths = [spec.url_path or "" for spec in specs] or [""]
        st.navigation(
            [
                st.Page(_sign_in_page, title="Sign in", url_path=path or None, default=not n)
                for n, path in enumerate(paths)
            ],
            position="hidden",
        ).run()
        st.stop()
    st.navigation([page], position="hidden").run()
    st.stop()


def _sign_out_clicked() -> None:
    principal: Principal | None = st.session_state.get(keys.PRINCIPAL)
    if principal is not None:
        _sign_out(principal, "signed out")


def _sign_in(config: Settings, name: str, password: str) -> None:
    try:
        account = accounts(config).authenticate(name, password, client_address())
    except SignInThrottled as exc:
        audit(name.strip(), "sign-in", outcome=REFUSED, detail="throttled")
        st.error(f"Too many failed sign-ins: {str(exc).split(': ', 1)[-1]}.", icon=":material/timer:")
        return
    except AccountError:
        audit(name.strip(), "sign-in", outcome=FAILED, detail="wrong username or password")
        st.error("Wrong username or password.", icon=":material/error:")
        return
    except EmotionCoreError as exc:
        st.error(f"Nobody can sign in right now: {exc}")
        return
    st.session_state[keys.PRINCIPAL] = Principal(account.name, account.role, "local", account.changed_at, time.time())
    audit(account.name, "sign-in", detail="local account")
    st.rerun()


def _sign_in_page() -> None:
    config = resources.settings()
    st.title("Sign in")
    resources.show_flash()
    if oidc_configured():
        if st.button("Sign in with your organisation", icon=":material/badge:", type="primary", key=keys.OIDC_LOGIN):
            st.login()
        st.caption("Or with a local account:")
    with st.form(keys.SIGN_IN_FORM, clear_on_submit=True, enter_to_submit=True):
        name = st.text_input("Username", autocomplete="username", max_chars=64)
        password = st.text_input("Password", type="password", autocomplete="current-password", max_chars=1024)
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if submitted:
        _sign_in(config, name, password)
    if not oidc_configured():
        try:
            empty = accounts(config).count() == 0
        except EmotionCoreError:
            empty = False
        if empty:
            st.info(
                "There is no account yet. On the server, create the first admin (type the password, "
                f"then Enter):\n\n```bash\n{FIRST_ADMIN_COMMAND}\n```",
                icon=":material/admin_panel_settings:",
            )


def _first_admin_page() -> None:
    st.title("Create the first admin")
    st.markdown(
        f"This app is served on `{st.get_option('server.address') or 'every network interface'}`, so "
        "everyone must sign in, but there is no account yet. On the server, in the project folder, run "
        "the command below, type the new admin's password (at least 8 characters) and press Enter:"
    )
    st.code(FIRST_ADMIN_COMMAND, language="bash")
    st.markdown(
        "Then reload this page and sign in. To sign in with Google or Microsoft instead, configure `[auth]` "
        "in `.streamlit/secrets.toml` and `EMOTION_OIDC_ROLES`; see *docs/access-control.md*."
    )


def _no_role_page() -> None:
    st.title("No access")
    st.warning(
        f"You are signed in as **{st.user.get('email') or st.user.get('sub')}**, but no role is given to this "
        "identity (`EMOTION_OIDC_ROLES`). Ask an admin."
    )
    if st.button("Sign out", icon=":material/logout:", key=keys.OIDC_LOGOUT):
        st.logout()


def _no_page() -> None:
    st.title("No access")
    st.warning("Your role has no page in this app. Ask an admin.")
