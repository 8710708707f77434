"""Widgets more than one page uses: page setup, privacy notice, deleting all emotion records."""

from __future__ import annotations

import streamlit as st

from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.live import LiveSession
from emotion_core.privacy import privacy_markdown
from emotion_core.store import EmotionLog

from .resources import flash

COUNT_KEY = "count_emotions"
CONFIRM_DELETE_ALL_KEY = "_ec_confirm_delete_all"


def page_setup(title: str, icon: str) -> None:
    """Page configuration shared by every page."""
    st.set_page_config(page_title=title, page_icon=icon, layout="wide")


def privacy_notice(config: Settings) -> None:
    """Where the data lives, how to delete it, and the legal limit on emotion recognition."""
    with st.expander("Privacy notice", icon=":material/shield:"):
        st.markdown(privacy_markdown(config))


def store_error(exc: EmotionCoreError) -> None:
    """Error panel for an unusable emotion database."""
    st.error(f"The emotion database cannot be used: {exc}", icon=":material/database:")


def _ask_delete_all() -> None:
    st.session_state[CONFIRM_DELETE_ALL_KEY] = True


def _cancel_delete_all() -> None:
    st.session_state[CONFIRM_DELETE_ALL_KEY] = False


def _delete_all(log: EmotionLog, session: LiveSession | None) -> None:
    st.session_state[CONFIRM_DELETE_ALL_KEY] = False
    if session is not None:
        # The running session's rows are deleted too: stop counting rather than write into nothing
        # (a no-op when counting is off).
        session.stop_counting()
        st.session_state[COUNT_KEY] = False
    try:
        log.delete_all()
    except EmotionCoreError as exc:
        flash("error", f"Nothing was deleted: {exc}")
        return
    if session is not None:
        session.clear()
    flash("success", "All emotion records were deleted.")


def delete_all_records(log: EmotionLog | None, session: LiveSession | None) -> None:
    """The **Delete all emotion records** button and its confirmation step."""
    st.button(
        "Delete all emotion records",
        key="delete_all",
        icon=":material/delete_forever:",
        disabled=log is None,
        on_click=_ask_delete_all,
        width="stretch",
    )
    if st.session_state.get(CONFIRM_DELETE_ALL_KEY) and log is not None:
        st.warning("Delete every recorded session and observation? This cannot be undone.")
        yes, no = st.columns(2)
        yes.button(
            "Yes, delete everything", key="delete_all_yes", type="primary", on_click=_delete_all, args=(log, session)
        )
        no.button("Cancel", key="delete_all_cancel", on_click=_cancel_delete_all)
