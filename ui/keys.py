"""Every `st.session_state` and widget key the app owns, in one place.

One scheme: snake_case names without a prefix. Keys of widgets are also their state keys
(Streamlit shares one namespace), so the two kinds are listed together. Container keys become the
CSS class `st-key-<key>` that the browser tests look for, and keep their hyphenated names.
Several values are fixed: the app and browser tests select widgets by them.
"""

from __future__ import annotations

# Browser-session state (no widget).
LIVE_PARTS = "live_parts"  # this browser session's analyzer and LiveSession
CURRENT_PAGE = "current_page"  # the page that ran last in this browser session
FLASH = "flash_message"  # a message shown once on the next run
SIDEBAR_PREFS = "sidebar_prefs"  # the live page's sidebar values, kept while other pages run
ENROLL_FORM = "enroll_form_generation"  # bumped after an enrollment so the inputs start empty

# Widgets of the live page's sidebar.
COUNT = "count_emotions"
TOLERANCE = "tolerance"
SAMPLE_PERIOD = "sample_period"
COUNT_UNKNOWN = "count_unknown"

# Buttons that ask for confirmation (see `ui.widgets.confirm_button`).
DELETE_ALL = "delete_all"
DELETE_SESSION = "delete_session"
FORGET = "forget"

# Other widgets.
FORGET_PERSON = "forget_person"
ENROLL_SUBMIT = "enroll_submit"
HISTORY_SESSION = "history_session"
DOWNLOAD_CSV = "download_csv"

# Containers.
LIVE_STATS = "live-stats"
FINAL_CONFIDENCE = "final-confidence"
NO_EMOTION_MODEL = "no-emotion-model"
PEOPLE_TABLE = "people-table"
SESSIONS_TABLE = "sessions-table"
SESSION_COUNTS = "session-counts"


def weight(label: str) -> str:
    """The sidebar input of one emotion's weight."""
    return f"weight_{label}"


def enroll_input(kind: str, generation: int) -> str:
    """An input of the enroll form (`name`, `files`, `use_camera`, `camera`, `force`) in its generation."""
    return f"enroll_{kind}_{generation}"


def confirm_yes(key: str) -> str:
    """The "Yes, …" button of the confirmation step of button `key`."""
    return f"{key}_yes"


def confirm_cancel(key: str) -> str:
    """The Cancel button of the confirmation step of button `key`."""
    return f"{key}_cancel"


def confirm_pending(key: str) -> str:
    """What button `key` asked to act on, until confirmed or cancelled."""
    return f"{key}_pending"
