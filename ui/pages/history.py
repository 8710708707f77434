"""History page: past sessions (camera or video), per-person trends across sessions, one session's
counts, timelines and emotion heatmap, CSV and report downloads, deletion."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from emotion_core import charts
from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.history import SessionArchive, SessionRecord, bin_size, emotion_bins, person_trends, stats_of
from emotion_core.labels import listing_order
from emotion_core.report import load_report, render_html, render_pdf
from emotion_core.store import EmotionLog, write_csv
from ui import auth, keys, resources
from ui.widgets import confirm_button, delete_all_records, page_setup, privacy_notice, store_error


def duration_text(info: SessionRecord) -> str:
    if info.ended_at is None:
        return "running"
    seconds = round(info.ended_at - info.started_at)
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def final_scores(info: SessionRecord) -> Mapping[str, float | None]:
    """Person (and "Overall") -> frozen final score of a finished session."""
    final = info.final_scores()
    if final is None:
        return {}
    scores = {person.name: person.score for person in final.people}
    scores["Overall"] = final.overall_score
    return scores


def scores_text(info: SessionRecord) -> str:
    scores = final_scores(info)
    return ", ".join(f"{name} {charts.score_text(score)}" for name, score in scores.items())


def source_text(info: SessionRecord) -> str:
    """ "Camera", or "Video: file name"."""
    return "Camera" if info.source_kind == "camera" else f"Video: {info.source_text.removeprefix('video ')}"


def sessions_table(sessions: Sequence[SessionRecord]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "Session": info.id,
                "Start": datetime.fromtimestamp(info.started_at),
                "Source": source_text(info),
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
    principal = auth.permit("delete", subject=f"session {session_id}")
    if principal is None:
        return
    try:
        log.delete_session(session_id)
    except EmotionCoreError as exc:
        resources.flash("error", f"Session {session_id} was not deleted: {exc}")
        return
    auth.audit(principal.name, "delete-session", subject=f"session {session_id}")
    resources.flash("success", f"Deleted session {session_id}.")


def _exported(session_id: int, rows: int, what: str = "CSV") -> None:
    principal = auth.permit("export", subject=f"session {session_id}")
    if principal is not None:
        auth.audit(principal.name, "export", subject=f"session {session_id}", detail=f"{what}, {rows} observations")


def trends(sessions: Sequence[SessionRecord]) -> None:
    """Each person's final score and emotion mix per session, filtered by person and date range."""
    people = sorted(
        {name for info in sessions if info.final for name in (info.final.get("people") or {})}, key=listing_order
    )
    if not people:
        return
    st.subheader("Trends across sessions")
    first = min(datetime.fromtimestamp(info.started_at).date() for info in sessions)
    last = max(datetime.fromtimestamp(info.started_at).date() for info in sessions)
    who, when = st.columns([3, 2])
    chosen = who.multiselect("People", people, default=people, key=keys.TREND_PEOPLE)
    span = when.date_input("Sessions started between", (first, last), key=keys.TREND_DATES, format="YYYY-MM-DD")
    since, until = _day_range(span, first, last)
    points = person_trends(sessions, people=chosen, since=since, until=until)
    if not points:
        st.info("No finished session of the chosen people in that date range.")
        return
    with st.container(key=keys.TRENDS):
        left, right = st.columns(2)
        left.altair_chart(charts.score_trend_chart(points), width="stretch")
        left.caption("Final confidence of each session, with the weights it was counted with; ● camera, ◆ video.")
        right.altair_chart(charts.emotion_mix_chart(points))


def _day_range(span: object, first: date, last: date) -> tuple[float, float]:
    """Unix times [since, until) of a date_input range (a half-chosen range ends on its first day)."""
    days = tuple(span) if isinstance(span, (tuple, list)) else (span,)
    start = days[0] if days and isinstance(days[0], date) else first
    end = days[1] if len(days) > 1 and isinstance(days[1], date) else start if days else last
    since = datetime.combine(start, time.min).timestamp()
    until = datetime.combine(end + timedelta(days=1), time.min).timestamp()
    return since, until


def report_download(archive: SessionArchive, info: SessionRecord, settings: Settings) -> None:
    """Make the session's report (HTML or PDF) on request and offer it for download."""
    kind = st.segmented_control(
        "Report",
        ["HTML", "PDF"],
        default="HTML",
        key=keys.REPORT_FORMAT,
        help="A file to share: summary, scores, charts",
    )
    fmt = (kind or "HTML").lower()
    made = st.session_state.get(keys.REPORT_MADE)
    if made is None or made[0] != (info.id, fmt):
        if not st.button(f"Make the {fmt.upper()} report", icon=":material/description:", key=keys.MAKE_REPORT):
            return
        try:
            with st.spinner("Drawing the charts…"):
                report = load_report(archive, info.id, settings)
                data = render_html(report).encode("utf-8") if fmt == "html" else render_pdf(report)
        except EmotionCoreError as exc:
            st.error(f"No report: {exc}")
            return
        st.session_state[keys.REPORT_MADE] = made = ((info.id, fmt), data)
    st.download_button(
        f"Download the {fmt.upper()} report",
        made[1],
        file_name=f"emotion-session-{info.id}.{fmt}",
        mime="text/html" if fmt == "html" else "application/pdf",
        icon=":material/download:",
        key=keys.DOWNLOAD_REPORT,
        on_click=_exported,
        args=(info.id, info.observations, f"{fmt.upper()} report"),
    )


def session_detail(log: EmotionLog, archive: SessionArchive, info: SessionRecord, settings: Settings) -> None:
    observations = archive.observations(info.id)
    weights = info.weights
    st.subheader(f"Session {info.id}")
    st.caption(
        f"{datetime.fromtimestamp(info.started_at):%Y-%m-%d %H:%M:%S} · {duration_text(info)} · "
        f"{source_text(info)} · {len(observations)} observations · model {info.model or 'none'}"
    )
    raw = any(o.raw_emotion is not None for o in observations) and st.toggle(
        "Show raw emotions",
        key=f"raw_emotions_{info.id}",
        help="Calibrated people were counted relative to their resting face; this shows what the model read.",
    )
    if raw:
        observations = [replace(o, emotion=o.raw_emotion or o.emotion) for o in observations]
    if observations:
        stats = stats_of(observations, weights) if raw else info.final_stats(observations)
        with st.container(key=keys.SESSION_COUNTS):
            st.dataframe(
                charts.counts_table(stats),
                column_config={
                    "Score": st.column_config.ProgressColumn("Confidence", min_value=0, max_value=100, format="%.0f")
                },
            )
        timeline = charts.running_scores(((o.timestamp, o.person, o.emotion) for o in observations), weights)
        left, right = st.columns(2)
        left.altair_chart(
            charts.score_chart(timeline, "Confidence over the session", start=info.started_at), width="stretch"
        )
        left.caption("Running score of each person, with the weights the session was counted with.")
        right.altair_chart(charts.counts_chart(stats), width="stretch")
        span = max(info.duration_s or 0.0, observations[-1].timestamp - info.started_at)
        step = bin_size(span)
        with st.container(key=keys.SESSION_HEATMAP):
            st.altair_chart(
                charts.emotion_heatmap(
                    emotion_bins(observations, info.started_at, step), step, f"Emotions per {step:g} s"
                )
            )
    else:
        st.info("This session has no observations.")
    buffer = io.StringIO()
    write_csv(observations, buffer)
    download, report, delete = st.columns(3)
    download.download_button(
        "Download CSV",
        buffer.getvalue().encode("utf-8"),
        key=keys.DOWNLOAD_CSV,
        file_name=f"emotion-session-{info.id}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click=_exported,
        args=(info.id, len(observations)),
    )
    with report:
        report_download(archive, info, settings)
    if not auth.allowed("delete"):
        return
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
    auth.require("history")
    resources.enter_page("history")
    settings = resources.settings()
    st.title("History")
    try:
        log = resources.emotion_log(settings)
        archive = resources.session_archive(settings)
        sessions = archive.sessions()
    except EmotionCoreError as exc:
        store_error(exc)
        st.stop()
    resources.show_flash()
    if not sessions:
        st.info(
            "No sessions recorded yet. Turn on **Count emotions** on the live page, or analyse a video on the "
            "*Video* page, to record one."
        )
    else:
        with st.container(key=keys.SESSIONS_TABLE):
            st.dataframe(
                sessions_table(sessions),
                hide_index=True,
                width="stretch",
                column_config={"Start": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
            )
        trends(sessions)
        st.divider()
        by_id = {info.id: info for info in sessions}
        chosen = st.selectbox(
            "Session",
            list(by_id),
            key=keys.HISTORY_SESSION,
            format_func=lambda sid: (
                f"Session {sid} · "
                f"{datetime.fromtimestamp(by_id[sid].started_at):%Y-%m-%d %H:%M} · "
                f"{source_text(by_id[sid])} · "
                f"{', '.join(by_id[sid].people) or 'nobody'}"
            ),
        )
        session_detail(log, archive, by_id[chosen], settings)
    if auth.allowed("delete"):
        st.divider()
        delete_all_records(log, resources.current_live_session())
    privacy_notice(settings)


main()
