"""The emotion log: sessions and observations in a SQL database (SQLite by default, or PostgreSQL).

Writes go through a write-behind queue (`writebehind.py`), so the frame path never waits on the
database; a failed batch is rolled back whole, so nothing already stored is touched.

Several app servers may share one PostgreSQL. Deletes are final everywhere: rows that arrive later
for a deleted session are refused (its id stays in `deleted_sessions`), and so are observations of
a forgotten person counted before the forget (only a salted hash of the name is kept, in
`forgotten_people`). `was_deleted` tells a counting page that its session was deleted elsewhere.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from .config import DbTimeouts, session_weights
from .db import erase, make_engine, name_hash, parse_url, reason, salt, upgrade
from .errors import StoreError
from .labels import LABELS
from .schema import (
    deleted_sessions_table,
    forgotten_people_table,
    metadata,
    observations_table,
    sessions_table,
)
from .scoring import confidence
from .writebehind import End, NewSession, Observation, Op, Rows, StoredBatch, WriteBehind

if TYPE_CHECKING:
    from .live import FinalScores

__all__ = ["EmotionLog", "Observation", "SessionInfo", "forget_person_records", "metadata", "write_csv"]

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0
RECOGNITION_GRACE_S = 10.0
"""After a forget, other servers may still name the person until their registry refreshes (5 s):
their observations up to this long after the forget are refused too."""

T = TypeVar("T")


@dataclass(frozen=True)
class SessionInfo:
    """A logged counting session with a summary of its observations."""

    id: int
    started_at: float
    ended_at: float | None
    model: str | None
    people: list[str]
    final: dict | None  # `FinalScores.to_dict` form; None while running
    observations: int
    settings: dict | None = None  # the settings it was counted with (`LiveSession` stores them)

    def final_scores(self) -> FinalScores | None:
        """The frozen final scores of a finished session."""
        from .live import FinalScores  # live imports this module

        if self.final is None or self.ended_at is None:
            return None
        return FinalScores.from_dict(self.final, self.id, self.started_at, self.ended_at)


class EmotionLog:
    """Sessions and observations in the database at `url`, written off the caller's thread."""

    def __init__(self, url: str, timeouts: DbTimeouts | None = None) -> None:
        """Prepare the database and start the writer thread (no connection is made yet).

        Raises `StoreError` only for an unusable URL. The schema is upgraded on first use; a
        database that refuses writes is reported through `last_error` and retried.
        """
        self._engine = make_engine(url, timeouts)
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._salt: str | None = None
        self._queue = WriteBehind(self._store_batch)

    # -- writing -----------------------------------------------------------------------------

    def start_session(self, started_at: float, model: str | None, settings: Mapping[str, Any]) -> int:
        """Create a session and return its id (negative and provisional while the database refuses writes)."""
        op = NewSession(0, float(started_at), model, dict(settings))
        with self._queue.paused():
            try:
                self._ensure_schema()
                with self._engine.begin() as conn:
                    return self._insert_session(conn, op)
            except SQLAlchemyError as exc:
                self._queue.fail(f"cannot write the emotion log: {reason(exc)}")
        return self._queue.provisional(op)

    def add_observations(self, session_id: int, rows: Sequence[Observation]) -> None:
        """Queue `rows` for the session; never blocks on the database."""
        if rows:
            self._queue.put(Rows(session_id, list(rows)))

    def end_session(self, session_id: int, ended_at: float, final: Mapping[str, Any]) -> None:
        """Queue the end time and frozen final scores of the session."""
        self._queue.put(End(session_id, float(ended_at), dict(final)), hurry=True)

    def stored_id(self, session_id: int | None) -> int | None:
        """The database id of a session id returned by `start_session`, None while not stored yet."""
        return self._queue.stored_id(session_id)

    def was_deleted(self, session_id: int | None) -> bool:
        """True once the session is known to be deleted (on this or another server); its writes are dropped."""
        return self._queue.is_deleted(session_id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is stored; False if that did not happen within `timeout` s."""
        return self._queue.flush(timeout)

    @property
    def last_error(self) -> str | None:
        """The last database failure, None once writes succeed again."""
        return self._queue.last_error(
            lambda ops: f"{sum(len(op.rows) for op in ops if isinstance(op, Rows))} observations waiting to be stored"
        )

    def _insert_session(self, conn: Connection, op: NewSession) -> int:
        values = op.values()
        if self._engine.dialect.name == "sqlite":
            # SQLite reuses the highest id after it is deleted; a deleted session's id must stay unused.
            highest = max(
                conn.scalar(select(func.max(sessions_table.c.id))) or 0,
                conn.scalar(select(func.max(deleted_sessions_table.c.id))) or 0,
            )
            values["id"] = highest + 1
        return int(conn.execute(insert(sessions_table).values(values)).inserted_primary_key[0])  # type: ignore[index]

    def _store_batch(self, batch: list[Op], ids: dict[int, int]) -> StoredBatch:
        """Store `batch` in one transaction, refusing writes of deleted sessions and forgotten people."""
        self._ensure_schema()
        new_ids: dict[int, int] = {}

        def resolve(key: int) -> int | None:
            return key if key > 0 else ids.get(key, new_ids.get(key))

        with self._engine.begin() as conn:
            # Sessions created in an earlier batch are referenced by their stored id (a provisional
            # key resolves through `ids`); one missing from the table was deleted meanwhile.
            referenced = {
                session for op in batch if not isinstance(op, NewSession) and (session := resolve(op.key)) is not None
            }
            started: dict[int, float] = {}
            weights: dict[int, Mapping[str, float]] = {}
            if referenced:
                for session, started_at, settings in conn.execute(
                    select(sessions_table.c.id, sessions_table.c.started_at, sessions_table.c.settings).where(
                        sessions_table.c.id.in_(referenced)
                    )
                ):
                    started[session], weights[session] = started_at, session_weights(settings)
            deleted = {session for session in referenced if session not in started}
            forgotten = self._forgotten(conn, batch)
            rows: list[dict[str, Any]] = []
            for op in batch:
                if isinstance(op, NewSession):
                    new_ids[op.key] = stored = self._insert_session(conn, op)
                    started[stored], weights[stored] = op.started_at, session_weights(op.settings)
                    continue
                session = resolve(op.key)
                if session is None or session not in started:
                    continue  # the session was deleted meanwhile
                if isinstance(op, Rows):
                    rows.extend(
                        {
                            "session_id": session,
                            "timestamp": r.timestamp,
                            "person": r.person,
                            "emotion": r.emotion,
                            "probability": r.probability,
                            "raw_emotion": r.raw_emotion,
                        }
                        for r in op.rows
                        if r.timestamp > forgotten.get(r.person, -1.0)
                    )
                else:
                    final = op.final
                    for name, until in forgotten.items():
                        if started[session] <= until:
                            final = _without(final, name, weights[session])
                    conn.execute(
                        update(sessions_table)
                        .where(sessions_table.c.id == session)
                        .values(ended_at=op.ended_at, final=final)
                    )
            if rows:
                conn.execute(insert(observations_table), rows)
        return StoredBatch(new_ids, deleted)

    def _forgotten(self, conn: Connection, batch: list[Op]) -> dict[str, float]:
        """Names in `batch` that were forgotten, with the time until which their rows are refused."""
        names = {r.person for op in batch if isinstance(op, Rows) for r in op.rows}
        names |= {name for op in batch if isinstance(op, End) for name in op.final.get("people", {})}
        if not names:
            return {}
        hashes = {name_hash(self._name_salt(conn), name): name for name in names}
        found = conn.execute(
            select(forgotten_people_table.c.name_hash, forgotten_people_table.c.forgotten_at).where(
                forgotten_people_table.c.name_hash.in_(hashes)
            )
        )
        return {hashes[digest]: at + RECOGNITION_GRACE_S for digest, at in found}

    def _name_salt(self, conn: Connection) -> str:
        if self._salt is None:
            self._salt = salt(conn)
        return self._salt

    def _ensure_schema(self) -> None:
        with self._schema_lock:
            if not self._schema_ready:
                upgrade(self._engine)
                self._schema_ready = True

    def _read_schema(self) -> None:
        """Upgrade the schema before a read if the database allows (a read-only one may still be read)."""
        try:
            self._ensure_schema()
        except SQLAlchemyError as exc:
            if getattr(exc, "statement", None) is None:  # no connection at all: the read would wait again
                raise _read_error(exc) from None
            logger.warning("cannot upgrade the emotion log's schema: %s", reason(exc))

    # -- deleting ----------------------------------------------------------------------------

    def delete_session(self, session_id: int) -> None:
        """Delete one session and its observations, stored or pending; it stays deleted on every server."""
        stored = self.stored_id(session_id)
        with self._queue.paused():
            if stored is not None:
                self._change(lambda conn: _delete_sessions(conn, [stored]))
            self._queue.mark_deleted({session_id} if stored is None else {session_id, stored})
        erase(self._engine, ("observations", "sessions"))

    def delete_all(self) -> None:
        """Delete every session and observation, stored or pending (enrolled faces are not touched)."""
        with self._queue.paused():
            deleted = self._change(lambda conn: _delete_sessions(conn, None))
            self._queue.mark_deleted(deleted | self._queue.drop_all())
        erase(self._engine, ("observations", "sessions"))

    def forget_person(self, name: str) -> int:
        """Delete every observation of `name`, stored or pending; return how many were deleted.

        The person is also removed from the final scores stored with each session, and their
        observations counted until now that arrive later from any server are refused.
        """

        def change(conn: Connection) -> int:
            digest = name_hash(self._name_salt(conn), name)
            conn.execute(delete(forgotten_people_table).where(forgotten_people_table.c.name_hash == digest))
            conn.execute(insert(forgotten_people_table).values(name_hash=digest, forgotten_at=time.time()))
            deleted = conn.execute(delete(observations_table).where(observations_table.c.person == name)).rowcount
            for session, final, settings in conn.execute(
                select(sessions_table.c.id, sessions_table.c.final, sessions_table.c.settings)
            ).all():
                stored_weights[session] = session_weights(settings)
                if name in (final or {}).get("people", {}):
                    conn.execute(
                        update(sessions_table)
                        .where(sessions_table.c.id == session)
                        .values(final=_without(final, name, stored_weights[session]))
                    )
            return int(deleted)

        pending = 0
        stored_weights: dict[int, Mapping[str, float]] = {}

        def forget_queued(ops: list[Op]) -> None:
            nonlocal pending
            queued_weights = {op.key: session_weights(op.settings) for op in ops if isinstance(op, NewSession)}
            for op in ops:
                if isinstance(op, Rows):
                    kept = [row for row in op.rows if row.person != name]
                    pending += len(op.rows) - len(kept)
                    op.rows = kept
                elif isinstance(op, End):
                    weights = queued_weights.get(op.key) or stored_weights.get(self._queue.stored_id(op.key) or 0)
                    op.final = _without(op.final, name, weights or session_weights(None))

        with self._queue.paused():
            deleted = self._change(change)
            self._queue.edit(forget_queued)
        erase(self._engine, ("observations", "sessions"))
        return deleted + pending

    def rename_person(self, session_id: int, old: str, new: str) -> None:
        """Attribute `old`'s observations of one session, stored or pending, to `new`."""
        stored = self.stored_id(session_id)

        def rename_queued(ops: list[Op]) -> None:
            for op in ops:
                if isinstance(op, Rows) and op.key in (session_id, stored):
                    op.rows = [replace(row, person=new) if row.person == old else row for row in op.rows]

        with self._queue.paused():
            if stored is not None:
                self._change(
                    lambda conn: conn.execute(
                        update(observations_table)
                        .where(observations_table.c.session_id == stored, observations_table.c.person == old)
                        .values(person=new)
                    )
                )
            self._queue.edit(rename_queued)

    def _change(self, change: Callable[[Connection], T]) -> T:
        """Run `change(connection)` in one transaction; `StoreError` on failure (nothing changed)."""
        try:
            self._ensure_schema()
            with self._engine.begin() as conn:
                return change(conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot change the emotion log: {reason(exc)}; nothing was deleted") from None

    # -- reading -----------------------------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        """Stored sessions, newest first."""
        s, o = sessions_table, observations_table
        self._read_schema()
        try:
            with self._engine.connect() as conn:
                counts: dict[int, int] = dict(
                    conn.execute(select(o.c.session_id, func.count()).group_by(o.c.session_id)).all()
                )
                people: dict[int, list[str]] = {}
                for session, person in conn.execute(
                    select(o.c.session_id, o.c.person).distinct().order_by(o.c.session_id, o.c.person)
                ):
                    people.setdefault(session, []).append(person)
                rows = conn.execute(select(s).order_by(s.c.started_at.desc(), s.c.id.desc())).all()
        except SQLAlchemyError as exc:
            raise _read_error(exc) from None
        return [
            SessionInfo(
                r.id, r.started_at, r.ended_at, r.model, people.get(r.id, []), r.final, counts.get(r.id, 0), r.settings
            )
            for r in rows
        ]

    def observations(self, session_id: int | None = None) -> list[Observation]:
        """Stored observations of one session (or all), in time order."""
        o = observations_table
        query = select(o.c.timestamp, o.c.person, o.c.emotion, o.c.probability, o.c.raw_emotion).order_by(
            o.c.timestamp, o.c.id
        )
        if session_id is not None:
            query = query.where(o.c.session_id == self.stored_id(session_id))
        self._read_schema()
        try:
            with self._engine.connect() as conn:
                return [Observation(*row) for row in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise _read_error(exc) from None

    def export_csv(self, session_id: int, target: str | Path | TextIO) -> int:
        """Write the session's observations as CSV (timestamp, person, emotion, probability); return rows."""
        if all(info.id != self.stored_id(session_id) for info in self.sessions()):
            raise StoreError(f"no session {session_id} in the emotion log")
        return write_csv(self.observations(session_id), target)

    def close(self) -> None:
        """Flush what can be flushed (a few seconds at most) and stop the writer thread."""
        if not self._queue.close(CLOSE_TIMEOUT_S):
            logger.warning("emotion log closed with unsaved writes: %s", self.last_error)
        self._engine.dispose()


def write_csv(rows: Sequence[Observation], target: str | Path | TextIO) -> int:
    """Write observations as CSV with a header (timestamp, person, emotion, probability); return rows."""

    def write(handle: TextIO) -> None:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "person", "emotion", "probability"])
        writer.writerows([f"{r.timestamp:.3f}", r.person, r.emotion, f"{r.probability:.4f}"] for r in rows)

    if isinstance(target, (str, Path)):
        try:
            with open(target, "w", newline="", encoding="utf-8") as handle:
                write(handle)
        except OSError as exc:
            raise StoreError(f"{target}: cannot write ({exc.strerror or exc})") from None
    else:
        write(target)
    return len(rows)


def forget_person_records(url: str, name: str, timeouts: DbTimeouts | None = None) -> int:
    """Delete every stored observation of `name` from the database at `url`; return how many."""
    parsed = parse_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database
        and parsed.database != ":memory:"
        and not Path(parsed.database).exists()
    ):
        return 0
    emotion_log = EmotionLog(url, timeouts)
    try:
        return emotion_log.forget_person(name)
    finally:
        emotion_log.close()


def _without(final: dict, name: str, weights: Mapping[str, float]) -> dict:
    """`final` (the `FinalScores.to_dict` form) without `name`'s scores, its overall figures
    counted again over the others with the session's `weights`."""
    people = {person: stats for person, stats in final.get("people", {}).items() if person != name}
    counts = {
        label: sum(int((stats.get("counts") or {}).get(label, 0)) for stats in people.values()) for label in LABELS
    }
    score, points = confidence(counts, weights)
    return {**final, "people": people, "overall_score": score, "overall_points": points, "total": sum(counts.values())}


def _delete_sessions(conn: Connection, ids: list[int] | None) -> set[int]:
    """Delete sessions `ids` (None: all) with their observations, leaving tombstones; return the ids."""
    query = select(sessions_table.c.id)
    if ids is not None:
        query = query.where(sessions_table.c.id.in_(ids))
    found = set(conn.scalars(query))
    if found:
        now = time.time()
        conn.execute(insert(deleted_sessions_table), [{"id": session, "deleted_at": now} for session in sorted(found)])
    if ids is None:
        conn.execute(delete(observations_table))
        conn.execute(delete(sessions_table))
    else:
        conn.execute(delete(observations_table).where(observations_table.c.session_id.in_(ids)))
        conn.execute(delete(sessions_table).where(sessions_table.c.id.in_(ids)))
    return found


def _read_error(exc: SQLAlchemyError) -> StoreError:
    return StoreError(f"cannot read the emotion log: {reason(exc)}")
