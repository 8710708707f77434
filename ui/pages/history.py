"""History page: past counting sessions, one session's timeline and counts, CSV export, deletion."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import streamlit as st

from emotion_core.config import session_weights
from emotion_core.errors import EmotionCoreError
from emotion_core.store import EmotionLog, SessionInfo, write_csv
from ui import charts, keys, resources
from ui.widgets import confirm_button, delete_all_records, page_setup, privacy_notice, store_error


def duration_text(info: SessionInfo) -> str:
    if info.ended_at is None:
        return "running"
    seconds = round(info.ended_at - info.started_at)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def final_scores(info: SessionInfo) -> Mapping[str, float | None]:
    """Person (and "Overall") -> frozen final score of a finished session."""
    final = info.final or {}
    scores = {name: stats.get("score") for name, stats in final.get("people", {}).items()}
    if final:
        scores["Overall"] = final.get("overall_score")
    return scores


def scores_text(info: SessionInfo) -> str:
    scores = final_scores(info)
    return ", ".join(f"{name} {charts.score_text(score)}" for name, score in scores.items())


def sessions_table(sessions: list[SessionInfo]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Session": info.id,
                "Start": datetime.fromtimestamp(info.started_at),
                "Duration": duration_text(info),
                "People": ", ".join(info.people),
                "Final confidence": scores_text(info) if info.final else "—",
                "Observations": info.observations,
                "Model": info.model or "none",
            }
            for info in sessions
        ]
    )


def _delete(log: EmotionLog, session_id: int) -> None:
    try:
        log.delete_session(session_id)
    except EmotionCoreError as exc:
        resources.flash("error", f"Session {session_id} was not deleted: {exc}")
        return
    resources.flash("success", f"Deleted session {session_id}.")


def session_detail(log: EmotionLog, info: SessionInfo) -> None:
    observations = log.observations(info.id)
    weights = session_weights(info.settings)
    st.subheader(f"Session {info.id}")
    st.caption(
        f"{datetime.fromtimestamp(info.started_at):%Y-%m-%d %H:%M:%S} · {duration_text(info)} · "
        f"{len(observations)} observations · model {info.model or 'none'}"
    )
    if observations:
        stats = charts.stats_from_observations(((o.person, o.emotion) for o in observations), weights)
        with st.container(key=keys.SESSION_COUNTS):
            st.dataframe(
                charts.counts_table(stats),
                column_config={
                    "Score": st.column_config.ProgressColumn("Confidence", min_value=0, max_value=100, format="%.0f")
                },
            )
        timeline = charts.running_scores(((o.timestamp, o.person, o.emotion) for o in observations), weights)
        left, right = st.columns(2)
        left.altair_chart(charts.score_chart(timeline, "Confidence over the session"), width="stretch")
        left.caption("Running score of each person, with the weights the session was counted with.")
        right.altair_chart(charts.counts_chart(stats), width="stretch")
    else:
        st.info("This session has no observations.")
    buffer = io.StringIO()
    write_csv(observations, buffer)
    download, delete = st.columns(2)
    download.download_button(
        "Download CSV",
        buffer.getvalue().encode("utf-8"),
        key=keys.DOWNLOAD_CSV,
        file_name=f"emotion-session-{info.id}.csv",
        mime="text/csv",
        icon=":material/download:",
    )
    with delete:
        confirm_button(
            "Delete this session",
            key=keys.DELETE_SESSION,
            question=f"Delete session {info.id} and its {info.observations} observations? This cannot be undone.",
            confirm_label=f"Yes, delete session {info.id}",
            on_confirm=_delete,
            args=(log, info.id),
            subject=info.id,
            icon=":material/delete:",
        )


def main() -> None:
    page_setup("History", ":material/history:")
    resources.enter_page("history")
    settings = resources.settings()
    st.title("History")
    try:
        log = resources.emotion_log(settings)
        sessions = log.sessions()
    except EmotionCoreError as exc:
        store_error(exc)
        st.stop()
    resources.show_flash()
    if not sessions:
        st.info("No sessions recorded yet. Turn on **Count emotions** on the live page to record one.")
    else:
        with st.container(key=keys.SESSIONS_TABLE):
            st.dataframe(
                sessions_table(sessions),
                hide_index=True,
                width="stretch",
                column_config={"Start": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
            )
        by_id = {info.id: info for info in sessions}
        chosen = st.selectbox(
            "Session",
            list(by_id),
            key=keys.HISTORY_SESSION,
            format_func=lambda sid: (
                f"Session {sid} · "
                f"{datetime.fromtimestamp(by_id[sid].started_at):%Y-%m-%d %H:%M} · "
                f"{', '.join(by_id[sid].people) or 'nobody'}"
            ),
        )
        session_detail(log, by_id[chosen])
    st.divider()
    delete_all_records(log, resources.current_live_session())
    privacy_notice(settings)


main()
