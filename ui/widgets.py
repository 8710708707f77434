"""Widgets more than one page uses: page setup, privacy notice, confirmation step, deleting all records."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Literal

import streamlit as st

from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.live import LiveSession
from emotion_core.privacy import privacy_markdown
from emotion_core.store import EmotionLog

from . import auth, keys
from .resources import flash


def page_setup(title: str, icon: str) -> None:
    """Page configuration shared by every page."""
    st.set_page_config(page_title=title, page_icon=icon, layout="wide")


def privacy_notice(settings: Settings) -> None:
    """Where the data lives, how to delete it, and the legal limit on emotion recognition."""
    with st.expander("Privacy notice", icon=":material/shield:"):
        st.markdown(privacy_markdown(settings))


def store_error(exc: EmotionCoreError) -> None:
    """Error panel for an unusable emotion database."""
    st.error(f"The emotion database cannot be used: {exc}", icon=":material/database:")


def _set_pending(pending_key: str, subject: Hashable) -> None:
    st.session_state[pending_key] = subject


def _clear_pending(pending_key: str) -> None:
    st.session_state.pop(pending_key, None)


def _confirmed(pending_key: str, action: Callable[..., None], args: tuple) -> None:
    st.session_state.pop(pending_key, None)
    action(*args)


def confirm_button(
    label: str,
    *,
    key: str,
    question: str,
    confirm_label: str,
    on_confirm: Callable[..., None],
    args: tuple = (),
    subject: Hashable = True,
    icon: str | None = None,
    disabled: bool = False,
    width: Literal["content", "stretch"] = "content",
) -> None:
    """A button that acts only after a second click: `question` with `confirm_label` and Cancel.

    The confirmation step belongs to `subject` (a person, a session id): it is shown while the
    button, drawn with that same subject, was the last one clicked, and `on_confirm(*args)` runs
    when `confirm_label` is clicked. Keys: `key`, and `keys.confirm_yes/cancel/pending(key)`.
    """
    pending_key = keys.confirm_pending(key)
    st.button(
        label,
        key=key,
        icon=icon,
        disabled=disabled,
        on_click=_set_pending,
        args=(pending_key, subject),
        width=width,
    )
    if disabled or st.session_state.get(pending_key) != subject:
        return
    st.warning(question)
    yes, no = st.columns(2)
    yes.button(
        confirm_label,
        key=keys.confirm_yes(key),
        type="primary",
        on_click=_confirmed,
        args=(pending_key, on_confirm, args),
    )
    no.button("Cancel", key=keys.confirm_cancel(key), on_click=_clear_pending, args=(pending_key,))


def _delete_all(log: EmotionLog, session: LiveSession | None) -> None:
    principal = auth.permit("delete", subject="all emotion records")
    if principal is None:
        return
    if session is not None:
        # The running session's rows are deleted too: stop counting rather than write into nothing
        # (a no-op when counting is off).
        session.stop_counting()
        st.session_state[keys.COUNT] = False
    try:
        log.delete_all()
    except EmotionCoreError as exc:
        flash("error", f"Nothing was deleted: {exc}")
        return
    if session is not None:
        session.clear()
    auth.audit(principal.name, "delete-all", subject="all emotion records")
    flash("success", "All emotion records were deleted.")


def delete_all_records(log: EmotionLog | None, session: LiveSession | None) -> None:
    """The **Delete all emotion records** button and its confirmation step."""
    confirm_button(
        "Delete all emotion records",
        key=keys.DELETE_ALL,
        question="Delete every recorded session and observation? This cannot be undone.",
        confirm_label="Yes, delete everything",
        on_confirm=_delete_all,
        args=(log, session),
        icon=":material/delete_forever:",
        disabled=log is None,
        width="stretch",
    )
