"""Enroll page: add a person from camera snapshots or photos; list and delete enrolled people."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from emotion_core.calibration import Baseline
from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.recognition import enroll
from emotion_core.registry import MAX_NAME_LENGTH, remove_person
from ui import resources
from ui.widgets import page_setup, privacy_notice

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
FORM_KEY = "_ec_enroll_form"  # bumped after a success so the inputs start empty
CONFIRM_FORGET_KEY = "_ec_confirm_forget"


def enroll_form(config: Settings) -> None:
    generation = st.session_state.setdefault(FORM_KEY, 0)
    name = st.text_input(
        "Name", max_chars=MAX_NAME_LENGTH, key=f"enroll_name_{generation}", placeholder="e.g. Eileen Collins"
    )
    upload, snapshot = st.tabs([":material/upload: Upload photos", ":material/photo_camera: Take a snapshot"])
    files = upload.file_uploader(
        "Photos with exactly one face each",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=f"enroll_files_{generation}",
    )
    # Rendering camera_input asks for the camera at once, so it waits until the user wants it.
    shot = None
    if snapshot.toggle("Use the camera", key=f"enroll_use_camera_{generation}"):
        shot = snapshot.camera_input("Snapshot", key=f"enroll_camera_{generation}")
    force = st.checkbox("Enroll even if the face matches another enrolled person", key=f"enroll_force_{generation}")
    if not st.button("Enroll", type="primary", icon=":material/person_add:", key="enroll_submit"):
        return
    images = [*(files or []), *([shot] if shot is not None else [])]
    if not images:
        st.error("Add at least one photo or a camera snapshot.")
        return
    try:
        with st.spinner(f"Finding and encoding the face in {len(images)} image(s)…"):
            added = enroll(
                config.faces_path,
                name,
                images,
                tolerance=config.tolerance,
                force=force,
                min_face=config.min_enroll_face,
                max_pixels=config.max_image_pixels,
            )
    except EmotionCoreError as exc:
        st.error(f"Nothing was stored. {exc}", icon=":material/error:")
        return
    resources.flash("success", f"Enrolled {name.strip()} with {added} face encoding(s).")
    st.session_state[FORM_KEY] = generation + 1
    st.rerun()


def _ask_forget(name: str) -> None:
    st.session_state[CONFIRM_FORGET_KEY] = name


def _cancel_forget() -> None:
    st.session_state.pop(CONFIRM_FORGET_KEY, None)


def _forget(config: Settings, name: str) -> None:
    st.session_state.pop(CONFIRM_FORGET_KEY, None)
    try:
        remove_person(config.faces_path, name)
    except EmotionCoreError as exc:
        resources.flash("error", f"{name} was not deleted: {exc}")
        return
    try:
        records = resources.emotion_log(config).forget_person(name)
    except EmotionCoreError as exc:
        resources.flash(
            "warning",
            f"Deleted {name}'s face encodings, but their emotion records could not be "
            f"deleted ({exc}); delete them on the History page.",
        )
        return
    resources.flash("success", f"Deleted {name} and {records} emotion record(s).")


def calibration_text(baseline: Baseline | None) -> str:
    """When and with which model a person's resting face was recorded, or "no"."""
    if baseline is None:
        return "no"
    return f"{datetime.fromtimestamp(baseline.recorded_at):%Y-%m-%d %H:%M} ({baseline.model}, {baseline.frames} frames)"


def people_list(config: Settings) -> None:
    try:
        registry = resources.registry(config)
    except EmotionCoreError as exc:
        st.error(f"The face registry cannot be read: {exc}")
        return
    people = registry.people()
    if not people:
        st.info("Nobody is enrolled yet.")
        return
    with st.container(key="people-table"):
        st.dataframe(
            pd.DataFrame(
                {
                    "Person": list(people),
                    "Encodings": list(people.values()),
                    "Calibrated": [calibration_text(registry.baselines.get(name)) for name in people],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    name = st.selectbox("Delete a person", list(people), index=None, placeholder="Choose a person", key="forget_person")
    st.button(
        "Delete person",
        icon=":material/person_remove:",
        disabled=name is None,
        on_click=_ask_forget,
        args=(name,),
        key="forget_ask",
    )
    pending = st.session_state.get(CONFIRM_FORGET_KEY)
    if pending is not None and pending in people:
        st.warning(f"Delete {pending}'s face encodings and all their emotion records? This cannot be undone.")
        yes, no = st.columns(2)
        yes.button(f"Yes, delete {pending}", type="primary", on_click=_forget, args=(config, pending), key="forget_yes")
        no.button("Cancel", on_click=_cancel_forget, key="forget_cancel")


def main() -> None:
    page_setup("Enroll", ":material/person_add:")
    resources.enter_page("enroll")
    config = resources.settings()
    st.title("Enroll")
    st.caption(
        "Add a person from one or more photos (or a camera snapshot) showing only their face, well lit "
        f"and at least {config.min_enroll_face} pixels wide. Photos from several angles recognise better."
    )
    resources.show_flash()
    add, listing = st.columns([3, 2], gap="large")
    with add:
        st.subheader("Add a person")
        enroll_form(config)
    with listing:
        st.subheader("Enrolled people")
        people_list(config)
    privacy_notice(config)


main()
