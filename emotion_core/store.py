"""The emotion log: sessions and observations in a SQL database (SQLAlchemy; SQLite by default).

Writes are queued and done in batches by a writer thread, so the frame path never waits on the
database. When the database refuses writes (locked, read-only, disk full) the pending rows stay
in memory, `last_error` says why, and the writer retries; a failed batch is rolled back whole,
so nothing already stored is touched. The schema uses only portable types (PostgreSQL works
unchanged with its URL).
"""

from __future__ import annotations

import csv
import logging
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .errors import StoreError

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_S = 2.0
"""How long one SQLite write waits for a lock before the batch is counted as failed."""
BATCH_INTERVAL_S = 0.5
"""Queued writes are gathered this long into one transaction."""
RETRY_INTERVAL_S = 2.0
"""Pause between attempts while the database refuses writes."""
CLOSE_TIMEOUT_S = 5.0

metadata = MetaData()
sessions_table = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Double, nullable=False),
    Column("ended_at", Double),
    Column("model", String(64)),
    Column("settings", JSON(none_as_null=True), nullable=False),
    Column("final", JSON(none_as_null=True)),
)
observations_table = Table(
    "observations",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("timestamp", Double, nullable=False),
    Column("person", String(200), nullable=False, index=True),
    Column("emotion", String(16), nullable=False),
    Column("probability", Double, nullable=False),
)


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
    settings: dict | None = None  # the settings it was counted with (`LiveSession` stores them)


class EmotionLog:
    """Sessions and observations in the database at `url`, written off the caller's thread."""

    def __init__(self, url: str) -> None:
        """Open the database (creating its tables; SQLite in WAL mode) and start the writer thread.

        Raises `StoreError` only for an unusable URL; a database that refuses writes is reported
        through `last_error` and retried.
        """
        self._engine = _make_engine(url)
        self._cond = threading.Condition()
        self._db = threading.Lock()  # one writing transaction at a time in this process
        self._pending: list[_Op] = []
        self._ids: dict[int, int] = {}  # provisional session key -> stored id
        self._next_key = -1
        self._error: str | None = None
        self._hurry = False
        self._closing = False
        self._schema_ready = False
        with self._db:
            try:
                self._ensure_schema()
            except SQLAlchemyError as exc:
                self._fail(exc)
        self._thread = threading.Thread(target=self._run, name="emotion-log-writer", daemon=True)
        self._thread.start()

    # -- writing -----------------------------------------------------------------------------

    def start_session(self, started_at: float, model: str | None, settings: Mapping[str, Any]) -> int:
        """Create a session and return its id (negative and provisional while the database refuses writes)."""
        op = _NewSession(0, float(started_at), model, dict(settings))
        with self._db:
            try:
                self._ensure_schema()
                with self._engine.begin() as conn:
                    return int(conn.execute(insert(sessions_table).values(op.values())).inserted_primary_key[0])
            except SQLAlchemyError as exc:
                self._fail(exc)
        with self._cond:
            op.key = self._next_key
            self._next_key -= 1
            self._pending.append(op)
            self._cond.notify_all()
        return op.key

    def add_observations(self, session_id: int, rows: Sequence[Observation]) -> None:
        """Queue `rows` for the session; never blocks on the database."""
        if not rows:
            return
        with self._cond:
            # Always a new entry: an earlier one may be in the batch the writer is storing right now.
            self._pending.append(_Rows(session_id, list(rows)))
            self._cond.notify_all()

    def end_session(self, session_id: int, ended_at: float, final: Mapping[str, Any]) -> None:
        """Queue the end time and frozen final scores of the session."""
        with self._cond:
            self._pending.append(_End(session_id, float(ended_at), dict(final)))
            self._hurry = True
            self._cond.notify_all()

    def stored_id(self, session_id: int | None) -> int | None:
        """The database id of a session id returned by `start_session`, None while not stored yet."""
        if session_id is None or session_id > 0:
            return session_id
        with self._cond:
            return self._ids.get(session_id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued write is stored; False if that did not happen within `timeout` s."""
        with self._cond:
            self._hurry = True
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing)
                if self._closing and not self._pending:
                    return
                # Gather rows into one transaction; wait longer between attempts while failing.
                pause = RETRY_INTERVAL_S if self._error else BATCH_INTERVAL_S
                self._cond.wait_for(lambda: self._hurry or self._closing, pause)
                self._hurry = False
            with self._db:
                with self._cond:
                    batch = list(self._pending)
                stored = self._write(batch)
                with self._cond:
                    if stored:
                        done = set(map(id, batch))
                        self._pending = [op for op in self._pending if id(op) not in done]
                        if not self._pending:
                            self._error = None
                    self._cond.notify_all()
                    if self._closing and not stored:
                        return

    def _write(self, batch: list[_Op]) -> bool:
        """Store `batch` in one transaction; False (and nothing changed) if the database refused."""
        try:
            self._ensure_schema()
            with self._engine.begin() as conn:
                ids = dict(self._ids)
                referenced = {op.key for op in batch if op.key > 0}
                existing = (
                    set(conn.scalars(select(sessions_table.c.id).where(sessions_table.c.id.in_(referenced))))
                    if referenced
                    else set()
                )
                rows = []
                for op in batch:
                    if isinstance(op, _NewSession):
                        ids[op.key] = stored = conn.execute(
                            insert(sessions_table).values(op.values())
                        ).inserted_primary_key[0]
                        existing.add(stored)
                        continue
                    session = op.key if op.key > 0 else ids.get(op.key)
                    if session not in existing:
                        continue  # the session was deleted meanwhile
                    if isinstance(op, _Rows):
                        rows.extend(
                            {
                                "session_id": session,
                                "timestamp": r.timestamp,
                                "person": r.person,
                                "emotion": r.emotion,
                                "probability": r.probability,
                            }
                            for r in op.rows
                        )
                    else:
                        conn.execute(
                            update(sessions_table)
                            .where(sessions_table.c.id == session)
                            .values(ended_at=op.ended_at, final=op.final)
                        )
                if rows:
                    conn.execute(insert(observations_table), rows)
        except SQLAlchemyError as exc:
            self._fail(exc)
            return False
        with self._cond:
            self._ids = ids
        return True

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            metadata.create_all(self._engine)
            self._schema_ready = True

    def _fail(self, exc: SQLAlchemyError) -> None:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        logger.warning("emotion log write failed: %s", reason)
        with self._cond:
            self._error = f"cannot write the emotion log: {reason}"

    @property
    def last_error(self) -> str | None:
        """The last database failure, None once writes succeed again."""
        with self._cond:
            if self._error is None:
                return None
            waiting = sum(len(op.rows) for op in self._pending if isinstance(op, _Rows))
            return f"{self._error} ({waiting} observations waiting to be stored)"

    # -- deleting ----------------------------------------------------------------------------

    def delete_session(self, session_id: int) -> None:
        """Delete one session and its observations, stored or pending."""
        keys = {session_id}
        stored = self.stored_id(session_id)
        if stored is not None:
            keys.add(stored)
        with self._db:
            if stored is not None:
                self._change(
                    lambda conn: (
                        conn.execute(delete(observations_table).where(observations_table.c.session_id == stored)),
                        conn.execute(delete(sessions_table).where(sessions_table.c.id == stored)),
                    )
                )
            with self._cond:
                self._pending = [op for op in self._pending if op.key not in keys]

    def delete_all(self) -> None:
        """Delete every session and observation, stored or pending (enrolled faces are not touched)."""
        with self._db:
            self._change(lambda conn: (conn.execute(delete(observations_table)), conn.execute(delete(sessions_table))))
            with self._cond:
                self._pending = []
            self._checkpoint()

    def forget_person(self, name: str) -> int:
        """Delete every observation of `name`, stored or pending; return how many were deleted.

        The person is also removed from the final scores stored with each session.
        """

        def change(conn) -> int:
            deleted = conn.execute(delete(observations_table).where(observations_table.c.person == name)).rowcount
            for session, final in conn.execute(
                select(sessions_table.c.id, sessions_table.c.final).where(sessions_table.c.final.is_not(None))
            ):
                if name in (final or {}).get("people", {}):
                    conn.execute(
                        update(sessions_table).where(sessions_table.c.id == session).values(final=_without(final, name))
                    )
            return deleted

        with self._db:
            deleted = self._change(change)
            with self._cond:
                for op in self._pending:
                    if isinstance(op, _Rows):
                        kept = [row for row in op.rows if row.person != name]
                        deleted += len(op.rows) - len(kept)
                        op.rows = kept
                    elif isinstance(op, _End):
                        op.final = _without(op.final, name)
            self._checkpoint()
        return deleted

    def _change(self, change):
        """Run `change(connection)` in one transaction (caller holds `_db`); `StoreError` on failure."""
        try:
            self._ensure_schema()
            with self._engine.begin() as conn:
                return change(conn)
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise StoreError(f"cannot change the emotion log: {reason}; nothing was deleted") from None

    def _checkpoint(self) -> None:
        # Deleted rows must not linger in SQLite's write-ahead log (secure_delete zeroes the pages).
        if self._engine.dialect.name == "sqlite":
            try:
                with self._engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            except SQLAlchemyError as exc:
                logger.warning("WAL checkpoint failed: %s", exc)

    # -- reading -----------------------------------------------------------------------------

    def sessions(self) -> list[SessionInfo]:
        """Stored sessions, newest first."""
        s, o = sessions_table, observations_table
        try:
            with self._engine.connect() as conn:
                counts = dict(conn.execute(select(o.c.session_id, func.count()).group_by(o.c.session_id)).all())
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
        query = select(o.c.timestamp, o.c.person, o.c.emotion, o.c.probability).order_by(o.c.timestamp, o.c.id)
        if session_id is not None:
            query = query.where(o.c.session_id == self.stored_id(session_id))
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
        if not self.flush(CLOSE_TIMEOUT_S):
            logger.warning("emotion log closed with unsaved writes: %s", self.last_error)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(CLOSE_TIMEOUT_S + BUSY_TIMEOUT_S)
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


def forget_person_records(url: str, name: str) -> int:
    """Delete every stored observation of `name` from the database at `url`; return how many."""
    parsed = _parse_url(url)
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database
        and parsed.database != ":memory:"
        and not Path(parsed.database).exists()
    ):
        return 0
    emotion_log = EmotionLog(url)
    try:
        return emotion_log.forget_person(name)
    finally:
        emotion_log.close()


@dataclass(eq=False)
class _NewSession:
    key: int
    started_at: float
    model: str | None
    settings: dict

    def values(self) -> dict:
        return {"started_at": self.started_at, "model": self.model, "settings": self.settings}


@dataclass(eq=False)
class _Rows:
    key: int
    rows: list[Observation] = field(default_factory=list)


@dataclass(eq=False)
class _End:
    key: int
    ended_at: float
    final: dict


_Op = _NewSession | _Rows | _End


def _without(final: dict, name: str) -> dict:
    people = {person: stats for person, stats in final.get("people", {}).items() if person != name}
    return {**final, "people": people}


def _read_error(exc: SQLAlchemyError) -> StoreError:
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StoreError(f"cannot read the emotion log: {reason}")


def _parse_url(url: str):
    try:
        return make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r}") from None


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:  # read-only or locked: the writes will report it
            logger.warning("cannot switch SQLite to WAL mode: %s", exc)
    finally:
        cursor.close()


def _make_engine(url: str) -> Engine:
    parsed = _parse_url(url)
    options: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        options["connect_args"] = {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one shared in-memory database for every thread
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
