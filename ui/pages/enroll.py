"""Enroll page: add a person from camera snapshots or photos; list and delete enrolled people."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from emotion_core.config import Settings
from emotion_core.errors import EmotionCoreError
from emotion_core.people import forget_person
from emotion_core.recognition import enroll
from emotion_core.registry import MAX_NAME_LENGTH
from ui import auth, keys, resources
from ui.widgets import confirm_button, page_setup, privacy_notice

logger = logging.getLogger("emotion_core.ui")

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]


def enroll_form(settings: Settings) -> None:
    generation = st.session_state.setdefault(keys.ENROLL_FORM, 0)
    name = st.text_input(
        "Name", max_chars=MAX_NAME_LENGTH, key=keys.enroll_input("name", generation), placeholder="e.g. Eileen Collins"
    )
    upload, snapshot = st.tabs([":material/upload: Upload photos", ":material/photo_camera: Take a snapshot"])
    files = upload.file_uploader(
        "Photos with exactly one face each",
        type=IMAGE_TYPES,
        accept_multiple_files=True,
        key=keys.enroll_input("files", generation),
    )
    # Rendering camera_input asks for the camera at once, so it waits until the user wants it.
    shot = None
    if snapshot.toggle("Use the camera", key=keys.enroll_input("use_camera", generation)):
        shot = snapshot.camera_input("Snapshot", key=keys.enroll_input("camera", generation))
    force = st.checkbox(
        "Enroll even if the face matches another enrolled person", key=keys.enroll_input("force", generation)
    )
    if not st.button("Enroll", type="primary", icon=":material/person_add:", key=keys.ENROLL_SUBMIT):
        return
    principal = auth.permit("enroll", subject=name.strip())
    if principal is None:
        st.rerun()
    images = [*(files or []), *([shot] if shot is not None else [])]
    if not images:
        st.error("Add at least one photo or a camera snapshot.")
        return
    try:
        with st.spinner(f"Finding and encoding the face in {len(images)} image(s)…"):
            added = enroll(
                resources.registry_store(settings),
                name,
                images,
                tolerance=settings.tolerance,
                force=force,
                min_face=settings.min_enroll_face,
                max_pixels=settings.max_image_pixels,
            )
    except EmotionCoreError as exc:
        st.error(f"Nothing was stored. {exc}", icon=":material/error:")
        return
    auth.audit(principal.name, "enroll", subject=name.strip(), detail=f"{added} face encoding(s)")
    resources.flash("success", f"Enrolled {name.strip()} with {added} face encoding(s).")
    st.session_state[keys.ENROLL_FORM] = generation + 1
    st.rerun()


def _forget(settings: Settings, name: str) -> None:
    principal = auth.permit("forget", subject=name)
    if principal is None:
        return
    try:
        result = forget_person(
            resources.registry_store(settings),
            resources.emotion_log(settings),
            name,
            auth.audit_log(settings),
            principal.name,
            auth.client_address(),
        )
    except EmotionCoreError as exc:
        resources.flash("error", f"{name} was not deleted: {exc}")
        return
    if result.audit_error is not None:
        logger.warning("the audit log still names a forgotten person: %s", result.audit_error)
    if result.records_error is not None:
        resources.flash(
            "warning",
            f"Deleted {name}'s face encodings, but their emotion records could not be "
            f"deleted ({result.records_error}); delete them on the History page.",
        )
        return
    resources.flash("success", f"Deleted {name} and {result.records} emotion record(s).")


def people_list(settings: Settings) -> None:
    try:
        people = resources.registry(settings).people()
    except EmotionCoreError as exc:
        st.error(f"The face registry cannot be read: {exc}")
        return
    if not people:
        st.info("Nobody is enrolled yet.")
        return
    with st.container(key=keys.PEOPLE_TABLE):
        st.dataframe(
            pd.DataFrame({"Person": list(people), "Encodings": list(people.values())}), hide_index=True, width="stretch"
        )
    if not auth.allowed("forget"):
        return
    name = st.selectbox(
        "Delete a person", list(people), index=None, placeholder="Choose a person", key=keys.FORGET_PERSON
    )
    confirm_button(
        "Delete person",
        key=keys.FORGET,
        question=f"Delete {name}'s face encodings and all their emotion records? This cannot be undone.",
        confirm_label=f"Yes, delete {name}",
        on_confirm=_forget,
        args=(settings, name),
        subject=name,
        icon=":material/person_remove:",
        disabled=name is None,
    )


def main() -> None:
    page_setup("Enroll", ":material/person_add:")
    auth.require("enroll")
    resources.enter_page("enroll")
    settings = resources.settings()
    st.title("Enroll")
    st.caption(
        "Add a person from one or more photos (or a camera snapshot) showing only their face, well lit "
        f"and at least {settings.min_enroll_face} pixels wide. Photos from several angles recognise better."
    )
    resources.show_flash()
    add, listing = st.columns([3, 2], gap="large")
    with add:
        st.subheader("Add a person")
        enroll_form(settings)
    with listing:
        st.subheader("Enrolled people")
        people_list(settings)
    privacy_notice(settings)


main()
