"""Video page: analyse an uploaded recording through the live pipeline, with progress and Cancel;
the result is saved as a session whose source is the file's name."""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

from emotion_core import charts
from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.history import bin_size, emotion_bins
from emotion_core.registry import Registry
from emotion_core.replay import VideoReport
from emotion_core.store import EmotionLog
from ui import auth, keys, resources
from ui.video_job import VIDEO_TYPES, VideoJob, check_upload, start_job
from ui.widgets import page_setup, privacy_notice, store_error

POLL_S = 0.5


def _start(settings: Settings, people: Registry, model: resources.ModelState, log: EmotionLog) -> None:
    generation = st.session_state.get(keys.VIDEO_UPLOAD, 0)
    uploaded = st.session_state.get(keys.video_file(generation))
    if uploaded is None:
        resources.flash("error", "Choose a video file first.")
        return
    refused = check_upload(uploaded.name, uploaded.size, int(st.get_option("server.maxUploadSize")))
    if refused is not None:
        resources.flash("error", f"Nothing was analysed or stored. {refused}")
        return
    try:
        job = start_job(
            uploaded.name,
            uploaded.getvalue(),
            annotate=bool(st.session_state.get(keys.VIDEO_ANNOTATE)),
            registry=people,
            model=model.model,
            settings=settings,
            log=log,
        )
    except (OSError, EmotionCoreError) as exc:
        message = str(exc).split(": ", 1)[-1] if isinstance(exc, EmotionCoreError) else str(exc)
        resources.flash("error", f"Nothing was analysed or stored. {uploaded.name}: {message}")
        return
    st.session_state[keys.VIDEO_JOB] = job
    st.session_state[keys.VIDEO_UPLOAD] = generation + 1


def _cancel(job: VideoJob) -> None:
    job.cancel.set()


def progress_panel(job: VideoJob) -> None:
    """Progress of the running analysis, redrawn on a timer; a full rerun shows the result."""
    if not job.running:
        st.rerun()
    with st.container(border=True, key=keys.VIDEO_PROGRESS):
        elapsed = max(0.0, job.done_s)
        st.progress(
            job.share,
            text=f"Analysing **{job.name}**: {elapsed:.1f} of {job.total_s:.1f} s of video",
        )
        st.button(
            "Cancel",
            icon=":material/cancel:",
            on_click=_cancel,
            args=(job,),
            key=keys.VIDEO_CANCEL,
            disabled=job.cancel.is_set(),
        )


def result_panel(job: VideoJob, weights: Mapping[str, float]) -> None:
    """The finished analysis: final scores, counts, score and emotion timelines on the video's time."""
    if job.cancelled:
        st.info(f"The analysis of **{job.name}** was cancelled; nothing was stored.", icon=":material/cancel:")
        return
    if job.error is not None:
        st.error(f"Nothing was stored. {job.error}", icon=":material/error:")
        return
    report = job.report
    if report is None:
        return
    with st.container(border=True, key=keys.VIDEO_RESULT):
        final = report.final
        st.subheader(f"Result: {job.name}")
        st.caption(
            f"{report.duration_s:.1f} s of video, {report.frames} frames analysed in {report.elapsed_s:.1f} s "
            f"({report.fps:.1f} frames/s) · {final.total} observations · saved as session {report.session_id}"
        )
        columns = st.columns(min(len(final.people) + 1, 5))
        columns[0].metric("Overall", charts.score_text(final.overall_score))
        for index, person in enumerate(final.people, start=1):
            columns[index % len(columns)].metric(
                person.name, charts.score_text(person.score), help=f"{person.total} observations"
            )
        if not final.people:
            st.info("Nobody was counted: no face with an emotion was seen.")
        else:
            video_charts(report, weights)
        annotated = job.annotated
        if annotated is not None:
            st.download_button(
                "Download the annotated video",
                annotated.read_bytes(),
                file_name=f"{annotated.stem}-{job.name.rsplit('.', 1)[0]}.mp4",
                mime="video/mp4",
                icon=":material/download:",
                key=keys.VIDEO_DOWNLOAD,
            )
    st.caption("The session is listed on the *History* page, with its trends and a report to download.")


def video_charts(report: VideoReport, weights: Mapping[str, float]) -> None:
    """Counts per person, the running score and the emotions over the video's own time axis."""
    st.dataframe(
        charts.counts_table(report.final.people),
        column_config={
            "Score": st.column_config.ProgressColumn("Confidence", min_value=0, max_value=100, format="%.0f")
        },
    )
    rows = report.observations
    timeline = charts.running_scores(((o.timestamp, o.person, o.emotion) for o in rows), weights)
    left, right = st.columns(2)
    left.altair_chart(charts.counts_chart(report.final.people), width="stretch")
    right.altair_chart(charts.score_chart(timeline, "Confidence over the video", start=0.0), width="stretch")
    step = bin_size(report.duration_s)
    st.altair_chart(charts.emotion_heatmap(emotion_bins(rows, 0.0, step), step, f"Emotions per {step:g} s of video"))


def upload_form(settings: Settings, log: EmotionLog | None, people: Registry, model: resources.ModelState) -> None:
    generation = st.session_state.get(keys.VIDEO_UPLOAD, 0)
    limit = int(st.get_option("server.maxUploadSize"))
    st.file_uploader(
        f"Video file ({', '.join(VIDEO_TYPES)}; up to {limit} MB)",
        # No `type=` filter: Streamlit would refuse other files with an exception; check_upload says why.
        key=keys.video_file(generation),
    )
    st.checkbox(
        "Also write an annotated video to download (H.264 MP4, slower)",
        key=keys.VIDEO_ANNOTATE,
    )
    st.button(
        "Analyse",
        type="primary",
        icon=":material/play_arrow:",
        key=keys.VIDEO_ANALYSE,
        disabled=log is None,
        on_click=_start,
        args=(settings, people, model, log),
    )


def main() -> None:
    page_setup("Video", ":material/movie:")
    auth.require("live")  # analysing a video records a session, as counting on the Live page does
    resources.enter_page("video")
    settings = resources.settings()
    st.title("Video")
    st.markdown(
        "Upload a recording: it runs through the same pipeline as the live camera, counting from start to end, "
        "and is saved as a session named after the file. The video itself is deleted once analysed."
    )
    people = resources.registry_or_empty(settings)
    model = resources.emotion_model(settings)
    if model.model is None:
        st.warning("No emotion model is loaded, so nothing can be counted. See the live page.")
    try:
        log: EmotionLog | None = resources.emotion_log(settings)
    except EmotionCoreError as exc:
        store_error(exc)
        log = None
    resources.show_flash()
    job: VideoJob | None = st.session_state.get(keys.VIDEO_JOB)
    if job is not None and job.running:
        st.fragment(progress_panel, run_every=POLL_S)(job)
    else:
        upload_form(settings, log, people, model)
        if job is not None:
            result_panel(job, settings.weights)
    privacy_notice(settings)


main()
