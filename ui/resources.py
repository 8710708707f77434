"""Resources the pages share: settings, registry, emotion model, emotion log, per-browser live objects.

Process-wide, read-mostly objects are cached with `st.cache_resource`, keyed by their paths (and the
registry by its file's mtime, so an enrollment from the Enroll page or the CLI is picked up on the
next run). Each browser session owns one `FrameAnalyzer` + `LiveSession` in `st.session_state`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from emotion_core import worker
from emotion_core.config import DbTimeouts, Settings, load_settings
from emotion_core.detectors import default_detector
from emotion_core.emotions import EmotionModel, load_emotion_model
from emotion_core.errors import EmotionCoreError, ModelUnavailableError
from emotion_core.history import SessionArchive
from emotion_core.live import LiveSession, Snapshot
from emotion_core.registry import Registry, RegistryWatcher, open_registry
from emotion_core.store import EmotionLog
from emotion_core.stream import LiveStream
from emotion_core.weights import model_status

from . import keys


def settings() -> Settings:
    """Settings from the environment; a bad value shows an error panel and stops the page."""
    try:
        return load_settings()
    except EmotionCoreError as exc:
        st.error(f"Configuration error: {exc}")
        st.stop()


@st.cache_resource(max_entries=8, show_spinner=False)
def _registry_watcher(faces_path: str, db_url: str, _settings: Settings) -> RegistryWatcher:
    return RegistryWatcher(open_registry(_settings))


def registry_store(settings: Settings) -> RegistryWatcher:
    """The process-wide registry store (faces.pkl, or the database server); enroll and forget through it."""
    return _registry_watcher(str(settings.faces_path), settings.db_url, settings)


def registry(settings: Settings) -> Registry:
    """The enrolled people, re-read when they changed; raises `RegistryError` if unreadable."""
    return registry_store(settings).current()


def registry_or_empty(settings: Settings) -> Registry:
    """The enrolled people; an unreadable registry shows an error panel and nobody is recognised."""
    try:
        return registry(settings)
    except EmotionCoreError as exc:
        st.error(f"The face registry cannot be read, so nobody is recognised: {exc}")
        return Registry()


@dataclass(frozen=True)
class ModelState:
    """The emotion model in use, or why there is none."""

    choice: str
    model: EmotionModel | None
    problem: str | None  # what to do to get a model; None when loaded or disabled on purpose

    @property
    def name(self) -> str | None:
        return self.model.name if self.model is not None else None


@st.cache_resource(max_entries=4, show_spinner="Loading the emotion model…")
def _load_model(choice: str, models_dir: str, stamp: tuple) -> ModelState:
    if choice == "none":
        return ModelState(choice, None, None)
    try:
        return ModelState(choice, load_emotion_model(choice, Path(models_dir)), None)
    except ModelUnavailableError as exc:
        return ModelState(choice, None, str(exc))


def emotion_model(settings: Settings) -> ModelState:
    """The configured emotion model, loaded once; retried when model files appear or change."""
    stamp = tuple((s.name, s.available, s.size_bytes) for s in model_status(settings.models_dir))
    return _load_model(settings.emotion_model, str(settings.models_dir), stamp)


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_log(url: str, timeouts: DbTimeouts) -> EmotionLog:
    return EmotionLog(url, timeouts)


def emotion_log(settings: Settings) -> EmotionLog:
    """The process-wide emotion log; raises `StoreError` when the database cannot be used."""
    return _open_log(settings.db_url, settings.db_timeouts)


@st.cache_resource(max_entries=4, show_spinner=False)
def _open_archive(url: str, timeouts: DbTimeouts) -> SessionArchive:
    return SessionArchive(url, timeouts)


def session_archive(settings: Settings) -> SessionArchive:
    """The process-wide read-only view of the emotion log (history, trends, reports)."""
    return _open_archive(settings.db_url, settings.db_timeouts)


@dataclass
class LiveParts:
    """One browser session's camera stream (with its analysis process) and counting session."""

    stream: LiveStream
    session: LiveSession
    registry: Registry
    model: EmotionModel | None


def live_parts(settings: Settings, people: Registry, model: ModelState, log: EmotionLog | None) -> LiveParts:
    """This browser session's live objects, created on first use and kept up to date."""
    parts: LiveParts | None = st.session_state.get(keys.LIVE_PARTS)
    if parts is None:
        session = LiveSession(settings, log, model_name=model.name, detector_name=default_detector(settings).name)
        parts = LiveParts(LiveStream(settings, people, model.name, session), session, people, model.model)
        # When Streamlit drops the browser session (tab closed), the analysis process ends and a
        # running count is ended and saved.
        weakref.finalize(parts, _close_live, parts.stream, session)
        st.session_state[keys.LIVE_PARTS] = parts
    elif parts.model is not model.model:
        # A model fetched while the app runs: a new analysis process (tracks restart), same counts.
        parts.stream.set_model(model.name, people)
        parts.model, parts.registry = model.model, people
    else:
        _use_registry(parts, people)
    return parts


def _use_registry(parts: LiveParts, people: Registry) -> None:
    if parts.registry is not people:
        parts.stream.set_registry(people)
        parts.registry = people


def sync_registry(settings: Settings) -> None:
    """Give this browser session's analyzer the people enrolled now, also by other servers.

    Called on the live figures' timer, so a running camera names new people within seconds.
    """
    parts: LiveParts | None = st.session_state.get(keys.LIVE_PARTS)
    if parts is None:
        return
    try:
        _use_registry(parts, registry(settings))
    except EmotionCoreError:
        return  # the page shows the registry error on its next full run


def deleted_elsewhere(settings: Settings, session: LiveSession, snapshot: Snapshot) -> bool:
    """Stop counting if the counted session was deleted (on another server or page).

    True from then until counting starts again, for the page to say so.
    """
    if snapshot.counting:
        try:
            log = emotion_log(settings)
        except EmotionCoreError:
            return False
        if not log.was_deleted(snapshot.session_id):
            st.session_state.pop(keys.DELETED_ELSEWHERE, None)
            return False
        session.stop_counting()
        st.session_state[keys.DELETED_ELSEWHERE] = snapshot.session_id
    return keys.DELETED_ELSEWHERE in st.session_state


def _close_live(stream: LiveStream, session: LiveSession) -> None:
    stream.close()
    session.close()


@st.cache_resource(show_spinner=False)
def start_analysis_server() -> None:
    """Start the fork server of the analysis processes once per server process, ahead of START."""
    worker.prepare()


def current_live_session() -> LiveSession | None:
    """This browser session's `LiveSession` if the live page has created one."""
    parts: LiveParts | None = st.session_state.get(keys.LIVE_PARTS)
    return parts.session if parts is not None else None


def enter_page(name: str) -> str | None:
    """Record that page `name` is running in this browser session; return the previous page."""
    previous = st.session_state.get(keys.CURRENT_PAGE)
    st.session_state[keys.CURRENT_PAGE] = name
    return previous


def flash(kind: str, text: str) -> None:
    """Queue a message (kind: success, info, warning, error) for `show_flash` on the next run."""
    st.session_state[keys.FLASH] = (kind, text)


def show_flash() -> None:
    """Show and forget the queued message, if any.

    The slot exists in every run so that the elements after it keep their place in the page;
    otherwise a message would shift them and the browser briefly shows the old and new widgets.
    """
    slot = st.empty()
    message = st.session_state.pop(keys.FLASH, None)
    if message is not None:
        kind, text = message
        getattr(slot, kind)(text)
