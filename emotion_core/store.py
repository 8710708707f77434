"""The emotion log: sessions and observations in a SQL database (SQLAlchemy; SQLite by default).

Writes are queued and done in batches by a writer thread, so the frame path never waits on the
database. When the database refuses writes (locked, read-only, disk full) the pending rows stay
in memory, `last_error` says why, and the writer retries; a failed batch is rolled back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TextIO


@dataclass(frozen=True)
class Observation:
    """One counted emotion of one person at one time (unix seconds)."""

    timestamp: float
    person: str
    emotion: str
    probability: float


@dataclass(frozen=True)
class SessionInfo:
    """A logged counting session with a summary of its observations."""

    id: int
    started_at: float
    ended_at: float | None
    model: str | None
    people: list[str]
    final: dict | None
    observations: int


class EmotionLog:
    """Sessions and observations in the database at `url`, written off the caller's thread."""

    def __init__(self, url: str) -> None:
        """Open the database (creating its tables; SQLite in WAL mode) and start the writer thread.

        Raises `StoreError` only for an unusable URL; a database that refuses writes is reported
        through `last_error` and retried.
        """
        raise NotImplementedError

    def start_session(self, started_at: float, model: str | None, settings: Mapping[str, Any]) -> int:
        """Create a session and return its id (negative and provisional while the database refuses writes)."""
        raise NotImplementedError

    def add_observations(self, session_id: int, rows: Sequence[Observation]) -> None:
        """Queue `rows` for the session; never blocks on the database."""
        raise NotImplementedError

    def end_session(self, session_id: int, ended_at: float, final: Mapping[str, Any]) -> None:
        """Queue the end time and frozen final scores of the session."""
        raise NotImplementedError

    def stored_id(self, session_id: int | None) -> int | None:
        """The database id of a session id returned by `start_session`, None while not stored yet."""
        raise NotImplementedError

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is stored; False if that did not happen within `timeout` s."""
        raise NotImplementedError

    def sessions(self) -> list[SessionInfo]:
        """Stored sessions, newest first."""
        raise NotImplementedError

    def observations(self, session_id: int | None = None) -> list[Observation]:
        """Stored observations of one session (or all), in time order."""
        raise NotImplementedError

    def delete_session(self, session_id: int) -> None:
        """Delete one session and its observations, stored or pending."""
        raise NotImplementedError

    def delete_all(self) -> None:
        """Delete every session and observation, stored or pending (enrolled faces are not touched)."""
        raise NotImplementedError

    def forget_person(self, name: str) -> int:
        """Delete every observation of `name`, stored or pending; return how many were deleted."""
        raise NotImplementedError

    def export_csv(self, session_id: int, target: str | Path | TextIO) -> int:
        """Write the session's observations as CSV (timestamp, person, emotion, probability); return rows."""
        raise NotImplementedError

    @property
    def last_error(self) -> str | None:
        """The last database failure, None once writes succeed again."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush what can be flushed and stop the writer thread."""
        raise NotImplementedError


def forget_person_records(url: str, name: str) -> int:
    """Delete every stored observation of `name` from the database at `url`; return how many."""
    raise NotImplementedError
