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
DELETED_ELSEWHERE = "deleted_elsewhere"  # id of the counted session found deleted (by another server)
VIDEO_JOB = "video_job"  # the Video page's analysis (running or done) of this browser session
VIDEO_UPLOAD = "video_upload_generation"  # bumped after each start so the uploader is emptied
REPORT_MADE = "report_made"  # ((session id, format), bytes) of the last report made on History
PRINCIPAL = "signed_in"  # who this browser session acts as (ui.auth.Principal)
GATED = "auth_gated"  # set while app.py's sign-in gate has run in this script run
OIDC_SEEN = "oidc_seen"  # the OpenID identity whose sign-in was audited in this browser session

# Widgets of the live page's sidebar.
COUNT = "count_emotions"
TOLERANCE = "tolerance"
SAMPLE_PERIOD = "sample_period"
COUNT_UNKNOWN = "count_unknown"

# Buttons that ask for confirmation (see `ui.widgets.confirm_button`).
DELETE_ALL = "delete_all"
DELETE_SESSION = "delete_session"
FORGET = "forget"

# Sign-in and access settings.
SIGN_IN_FORM = "sign_in"
SIGN_OUT = "sign_out"
OIDC_LOGIN = "oidc_login"
OIDC_LOGOUT = "oidc_logout"
OPERATORS_MAY_ENROLL = "operators_may_enroll"

# Other widgets.
FORGET_PERSON = "forget_person"
ENROLL_SUBMIT = "enroll_submit"
HISTORY_SESSION = "history_session"
DOWNLOAD_CSV = "download_csv"
TREND_PEOPLE = "trend_people"
TREND_DATES = "trend_dates"
REPORT_FORMAT = "report_format"
MAKE_REPORT = "make_report"
DOWNLOAD_REPORT = "download_report"
VIDEO_ANNOTATE = "video_annotate"
VIDEO_ANALYSE = "video_analyse"
VIDEO_CANCEL = "video_cancel"
VIDEO_DOWNLOAD = "video_download"

# Containers.
LIVE_STATS = "live-stats"
FINAL_CONFIDENCE = "final-confidence"
NO_EMOTION_MODEL = "no-emotion-model"
PEOPLE_TABLE = "people-table"
SESSIONS_TABLE = "sessions-table"
SESSION_COUNTS = "session-counts"
SESSION_HEATMAP = "session-heatmap"
TRENDS = "trends"
VIDEO_PROGRESS = "video-progress"
VIDEO_RESULT = "video-result"


def video_file(generation: int) -> str:
    """The Video page's uploader in its generation."""
    return f"video_file_{generation}"


AUDIT_LOG = "audit-log"


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
