"""Live page: camera with overlays, counting controls, live table and charts, final scores."""

from __future__ import annotations

from datetime import datetime

import streamlit as st

from emotion_core import charts
from emotion_core.config import DEFAULT_WEIGHTS, SAMPLE_PERIOD_RANGE, TOLERANCE_RANGE, WEIGHT_RANGE, Settings
from emotion_core.detectors import default_detector
from emotion_core.errors import EmotionCoreError
from emotion_core.labels import LABELS
from emotion_core.live import FinalScores, LiveSession, Snapshot
from emotion_core.store import EmotionLog
from emotion_core.stream import LiveStream
from emotion_core.weights import FETCH_HINT
from ui import auth, keys, resources
from ui.calibration import people_panel
from ui.camera import camera
from ui.widgets import delete_all_records, page_setup, privacy_notice, store_error


def _toggle_counting(session: LiveSession) -> None:
    if auth.permit("live") is None:
        return
    if st.session_state[keys.COUNT]:
        session.start_counting()
    else:
        session.stop_counting()


def _reset_weights() -> None:
    for label in LABELS:
        st.session_state[keys.weight(label)] = float(DEFAULT_WEIGHTS[label])


def _remembered(key: str, default: object) -> None:
    """Seed a sidebar widget from this browser session's preferences.

    Streamlit drops a widget's state when another page runs; the preferences dict survives.
    """
    if key not in st.session_state:
        st.session_state[key] = st.session_state.setdefault(keys.SIDEBAR_PREFS, {}).get(key, default)


def sidebar(
    settings: Settings, model: resources.ModelState, parts: resources.LiveParts, log: EmotionLog | None
) -> None:
    session = parts.session
    snapshot = session.snapshot()
    st.session_state[keys.COUNT] = snapshot.counting
    st.toggle(
        "Count emotions",
        key=keys.COUNT,
        on_change=_toggle_counting,
        args=(session,),
        help="Count one emotion per person per sampling period and save the session.",
    )
    if snapshot.counting and snapshot.started_at is not None:
        st.caption(f":red[●] Counting since {datetime.fromtimestamp(snapshot.started_at):%H:%M:%S}")
    else:
        st.caption("Not counting. The camera still shows names and emotions.")

    st.subheader("Emotion model")
    if model.model is not None:
        st.markdown(f":green[:material/check_circle:] **{model.name}** loaded")
    elif model.choice == "none":
        st.markdown(":gray[:material/block:] disabled (`EMOTION_MODEL=none`)")
    else:
        st.markdown(":orange[:material/warning:] not available, see the main panel")
    detector = default_detector(settings).name
    if detector == settings.detector:
        st.markdown(f"Face detector: **{detector}**")
    else:
        st.markdown(
            f":orange[:material/warning:] Face detector: **{detector}** ({settings.detector} model missing: "
            f"`{FETCH_HINT[settings.detector]}`)"
        )

    st.subheader("Settings")
    _remembered(keys.TOLERANCE, settings.tolerance)
    _remembered(keys.SAMPLE_PERIOD, settings.sample_period)
    _remembered(keys.COUNT_UNKNOWN, settings.count_unknown)
    tolerance = st.slider(
        "Recognition tolerance",
        *TOLERANCE_RANGE,
        step=0.01,
        key=keys.TOLERANCE,
        help="Largest face distance that still counts as a match: lower is stricter.",
    )
    period = st.number_input(
        "Sampling period (seconds)",
        *SAMPLE_PERIOD_RANGE,
        step=0.1,
        format="%.2f",
        key=keys.SAMPLE_PERIOD,
        help="Each person is counted at most once per period while counting.",
    )
    count_unknown = st.checkbox(
        "Count unknown faces",
        key=keys.COUNT_UNKNOWN,
        help="Count strangers, each apart as Visitor 1, Visitor 2, … for this session.",
    )
    with st.expander("Emotion weights"):
        st.caption("Points per observation; the confidence score maps their mean from −2…+2 to 0…100.")
        for label in LABELS:
            _remembered(keys.weight(label), float(settings.weights[label]))
            st.number_input(label, *WEIGHT_RANGE, step=0.5, format="%.1f", key=keys.weight(label))
        st.button("Reset to defaults", on_click=_reset_weights)
    weights = {label: st.session_state[keys.weight(label)] for label in LABELS}
    prefs = st.session_state.setdefault(keys.SIDEBAR_PREFS, {})
    prefs.update(
        {
            keys.TOLERANCE: tolerance,
            keys.SAMPLE_PERIOD: period,
            keys.COUNT_UNKNOWN: count_unknown,
            **{keys.weight(label): weight for label, weight in weights.items()},
        }
    )
    parts.stream.set_tolerance(tolerance)
    session.update_settings(sample_period=period, weights=weights, count_unknown=count_unknown)

    if auth.allowed("delete"):
        st.divider()
        delete_all_records(log, session)
    resources.show_flash()


def final_panel(final: FinalScores) -> None:
    with st.container(border=True, key=keys.FINAL_CONFIDENCE):
        st.header("Final confidence")
        duration = final.ended_at - final.started_at
        saved = f" · saved as session {final.session_id}" if final.session_id is not None else ""
        st.caption(
            f"{datetime.fromtimestamp(final.started_at):%H:%M:%S} – "
            f"{datetime.fromtimestamp(final.ended_at):%H:%M:%S} ({duration:.0f} s, "
            f"{final.total} observations){saved}"
        )
        columns = st.columns(min(len(final.people) + 1, 5))
        columns[0].metric("Overall", charts.score_text(final.overall_score), help=f"{final.overall_points:+.1f} points")
        for index, person in enumerate(final.people, start=1):
            columns[index % len(columns)].metric(
                person.name,
                charts.score_text(person.score),
                help=f"{person.total} observations, {person.points:+.1f} points",
            )


def faces_in_view(snapshot: Snapshot) -> str:
    parts = []
    for face in snapshot.faces:
        emotion = f" · {face.emotion} {face.probability:.0%}" if face.emotion is not None else ""
        parts.append(f"**{face.name}**{emotion}")
    return ", ".join(parts) if parts else "nobody"


def live_stats(stream: LiveStream, playing: bool) -> None:
    """The live figures; redrawn on a timer while the camera runs."""
    settings = resources.settings()
    resources.sync_registry(settings)
    snapshot = stream.session.snapshot()
    deleted = resources.deleted_elsewhere(settings, stream.session, snapshot)
    if deleted and snapshot.counting:
        st.rerun()  # the whole page, so that the Count emotions toggle shows counting stopped
    with st.container(key=keys.LIVE_STATS):
        overall, people, observations, view = st.columns([1, 1, 1, 3])
        overall.metric("Overall confidence", charts.score_text(snapshot.overall_score))
        people.metric("People counted", len(snapshot.people))
        observations.metric("Observations", snapshot.total)
        view.markdown(f"In view: {faces_in_view(snapshot) if playing else 'nobody (camera off)'}")
        video_fps, analysis_fps = (stream.video_fps(), snapshot.fps) if playing else (0.0, 0.0)
        view.caption(f"{video_fps:.1f} fps video · {analysis_fps:.1f} fps processed · {snapshot.frames} frames")
        if playing and stream.problem:
            st.warning(
                f"The video goes on without names and emotions: {stream.problem}.", icon=":material/sync_problem:"
            )
        if snapshot.store_error:
            st.warning(f"Observations are kept in memory until the database accepts them again: {snapshot.store_error}")
        if deleted:
            st.warning(
                "This session was deleted on another server, so counting stopped and nothing more is saved. "
                "Turn on **Count emotions** to start a new session.",
                icon=":material/delete_forever:",
            )
        elif snapshot.final is not None and not snapshot.counting:
            final_panel(snapshot.final)
        if not snapshot.people:
            st.info(
                "No observations yet. Start the camera, then turn on **Count emotions** in the sidebar."
                if not snapshot.counting
                else "Counting: waiting for a face."
            )
            return
        st.dataframe(
            charts.counts_table(snapshot.people),
            column_config={
                "Score": st.column_config.ProgressColumn("Confidence", min_value=0, max_value=100, format="%.0f")
            },
        )
        left, right = st.columns(2)
        left.altair_chart(charts.counts_chart(snapshot.people), width="stretch")
        if snapshot.timeline:
            right.altair_chart(charts.score_chart(snapshot.timeline), width="stretch")


def main() -> None:
    page_setup("Live", ":material/videocam:")
    auth.require("live")
    returning = resources.enter_page("live") not in (None, "live")
    settings = resources.settings()
    st.title("Live emotion recognition")

    people = resources.registry_or_empty(settings)
    model = resources.emotion_model(settings)
    try:
        log: EmotionLog | None = resources.emotion_log(settings)
    except EmotionCoreError as exc:
        store_error(exc)
        st.caption("Counting still works, but sessions are not saved.")
        log = None
    parts = resources.live_parts(settings, people, model, log)
    resources.start_analysis_server()

    with st.sidebar:
        sidebar(settings, model, parts, log)

    video, guide = st.columns([3, 2], gap="large")
    with guide:
        st.markdown(
            "1. Press **START** and allow the camera.\n"
            "2. Turn on **Count emotions** in the sidebar.\n"
            "3. Turn it off to freeze the **Final confidence** and save the session."
        )
        if model.problem:
            with st.container(border=True, key=keys.NO_EMOTION_MODEL):
                st.warning(
                    f"No emotion model, so only faces and names are shown. {model.problem}",
                    icon=":material/psychology_alt:",
                )
                st.markdown("Get the light model (1.3 MB, from the npm registry) with:")
                st.code(FETCH_HINT["faceapi"], language="bash")
        if len(people) == 0:
            st.info(
                "Nobody is enrolled yet, so every face is a visitor (Visitor 1, Visitor 2, …).",
                icon=":material/person_add:",
            )
            if auth.allowed("enroll"):
                st.page_link("ui/pages/enroll.py", label="Enroll a person", icon=":material/arrow_forward:")
    with video:
        ctx = camera(settings, parts.stream, returning=returning)
    playing = ctx.state.playing
    with guide:
        st.fragment(people_panel, run_every=settings.refresh_s if playing else None)(
            settings, parts, people, model.name
        )
    st.fragment(live_stats, run_every=settings.refresh_s if playing else None)(parts.stream, playing)
    privacy_notice(settings)


main()
