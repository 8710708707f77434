"""The live page's calibration and visitor section: record an enrolled person's resting face,
enroll a visitor of this session."""

from __future__ import annotations

import numpy as np
import streamlit as st

from emotion_core.calibration import MIN_LIVE_FRAMES
from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.labels import is_visitor, listing_order
from emotion_core.live import LiveSession
from emotion_core.registry import MAX_NAME_LENGTH, Registry, add_person, set_baseline, validate_name
from ui import auth, keys, resources


def _start_calibration(session: LiveSession, name: str, model: str) -> None:
    if auth.permit("calibrate", subject=name) is not None:
        session.start_calibration(name, model)


def calibration_panel(settings: Settings, parts: resources.LiveParts, people: Registry, model: str | None) -> None:
    """Record the resting face of an enrolled person in view; redrawn on a timer while recording."""
    session = parts.session
    state = session.calibration()
    if state is not None and state.done:
        session.end_calibration()
        if state.baseline is None:
            resources.flash("error", f"{state.name} was not calibrated: {state.problem}")
        else:
            principal = auth.permit("calibrate", subject=state.name)
            try:
                if principal is not None:
                    set_baseline(resources.registry_store(settings), state.name, state.baseline)
                    auth.audit(principal.name, "calibrate", subject=state.name, detail=f"{state.frames} frames")
                    resources.flash("success", f"Calibrated {state.name} from {state.frames} frames.")
            except EmotionCoreError as exc:
                resources.flash("error", f"{state.name} was not calibrated: {exc}")
        st.rerun(scope="app")  # the new registry goes to the analysis process
    if state is not None:
        left = state.duration_s - state.elapsed_s
        waiting = state.frames == 0
        st.progress(
            min(state.elapsed_s / state.duration_s, state.frames / MIN_LIVE_FRAMES),
            text=f"Waiting for {state.name} to face the camera…"
            if waiting
            else f"Recording {state.name}'s resting face, keep still: {left:.0f} s left, "
            f"{state.frames}/{MIN_LIVE_FRAMES} frames",
        )
        st.button("Cancel calibration", on_click=session.end_calibration, key=keys.CALIBRATE_CANCEL)
        return
    in_view = sorted({face.name for face in session.snapshot().faces if face.name in people.names})
    if model is None:
        st.caption("Calibration needs an emotion model.")
    elif not in_view:
        st.caption("An enrolled person in view can be calibrated: they look at the camera with a resting face for 5 s.")
    for name in in_view:
        st.button(
            f"Calibrate {name}",
            icon=":material/tune:",
            on_click=_start_calibration,
            args=(session, name, model),
            key=keys.calibrate(name),
            disabled=model is None,
        )
    for name, baseline in people.baselines.items():
        if model is not None and baseline.model != model:
            st.caption(
                f"{name}'s baseline was made with {baseline.model}, so it is ignored with {model}: calibrate again."
            )


def visitor_panel(settings: Settings, parts: resources.LiveParts) -> None:
    """Enroll a stranger of this session from the face encodings captured while in view."""
    session = parts.session
    visitors = sorted({f.name for f in session.snapshot().faces if is_visitor(f.name)}, key=listing_order)
    visitors = [label for label in visitors if session.visitor_encodings(label)]
    if not visitors:
        st.caption("Strangers in view are shown as Visitor 1, Visitor 2, …; they can be enrolled from here.")
        return
    with st.form(keys.VISITOR_FORM, clear_on_submit=True, border=False):
        label = st.selectbox("Enroll this visitor…", visitors, key=keys.VISITOR_LABEL)
        name = st.text_input("Name", max_chars=MAX_NAME_LENGTH, key=keys.VISITOR_NAME)
        consent = st.checkbox("This person agrees to be enrolled", key=keys.VISITOR_CONSENT)
        if st.form_submit_button("Enroll visitor", icon=":material/person_add:"):
            if not consent:
                st.error("Nothing was enrolled: the person's consent is needed.")
                return
            principal = auth.permit("enroll", subject=name)
            if principal is None:
                st.rerun(scope="app")
            encodings = session.visitor_encodings(label)
            try:
                enrolled = validate_name(name)
                add_person(resources.registry_store(settings), enrolled, np.array(encodings))
                auth.audit(principal.name, "enroll", subject=enrolled, detail=f"visitor {label}")
            except EmotionCoreError as exc:
                st.error(f"Nothing was enrolled: {exc}")
                return
            session.rename_visitor(label, enrolled)
            resources.flash("success", f"Enrolled {label} as {enrolled}; their observations of this session follow.")
            st.rerun(scope="app")


def people_panel(settings: Settings, parts: resources.LiveParts, people: Registry, model: str | None) -> None:
    """Calibration and visitor enrollment, redrawn on a timer while the camera runs."""
    may_calibrate, may_enroll = auth.allowed("calibrate"), auth.allowed("enroll")
    if not (may_calibrate or may_enroll):
        return
    with st.expander("Calibrate · enroll visitors", expanded=parts.session.calibration() is not None):
        if may_calibrate:
            calibration_panel(settings, parts, people, model)
        if may_calibrate and may_enroll:
            st.divider()
        if may_enroll:
            visitor_panel(settings, parts)
