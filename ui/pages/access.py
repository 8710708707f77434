"""Access page (admins): who may enroll, the accounts, and the audit log."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from ui import auth, keys, resources
from ui.widgets import page_setup

AUDIT_ROWS = 1000


def _set_operators_may_enroll(config: Settings) -> None:
    allowed = bool(st.session_state[keys.OPERATORS_MAY_ENROLL])
    principal = auth.permit("access", subject="operators may enroll")
    if principal is None:
        return
    try:
        auth.accounts(config).set_operators_may_enroll(allowed)
    except EmotionCoreError as exc:
        resources.flash("error", f"The setting was not changed: {exc}")
        return
    auth.audit(principal.name, "setting", subject="operators may enroll", detail="on" if allowed else "off")
    resources.flash("success", f"Operators {'may' if allowed else 'may not'} enroll people now.")


def main() -> None:
    page_setup("Access", ":material/admin_panel_settings:")
    auth.require("access")
    config = resources.settings()
    st.title("Access and audit log")
    resources.show_flash()
    try:
        accounts = auth.accounts(config)
        st.session_state[keys.OPERATORS_MAY_ENROLL] = accounts.operators_may_enroll()
        people = accounts.list()
        entries = auth.audit_log(config).entries(AUDIT_ROWS)
    except EmotionCoreError as exc:
        st.error(f"The access tables cannot be read: {exc}")
        st.stop()
    st.toggle(
        "Operators may enroll",
        key=keys.OPERATORS_MAY_ENROLL,
        on_change=_set_operators_may_enroll,
        args=(config,),
        help="Operators always have the live page; with this on they may also enroll people (not delete them).",
    )
    st.subheader("Accounts")
    if people:
        st.dataframe(
            pd.DataFrame({"Account": [a.name for a in people], "Role": [a.role for a in people]}), hide_index=True
        )
    else:
        st.caption("No local accounts.")
    st.caption("Manage them on the server with `python -m emotion_core users add|list|remove|passwd`.")
    st.subheader("Audit log")
    st.caption(f"Newest first, at most {AUDIT_ROWS} entries. Forgotten people appear under a pseudonym.")
    with st.container(key=keys.AUDIT_LOG):
        st.dataframe(
            pd.DataFrame(
                {
                    "When": [datetime.fromtimestamp(e.at) for e in entries],
                    "Who": [e.actor for e in entries],
                    "What": [e.action for e in entries],
                    "Subject": [e.subject for e in entries],
                    "Outcome": [e.outcome for e in entries],
                    "From": [e.client for e in entries],
                    "Detail": [e.detail for e in entries],
                }
            ),
            hide_index=True,
            width="stretch",
            column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
        )


main()
