"""The face registry in a database server's `enrolled_faces` table, shared by every app server;
calibration baselines in `calibration_baselines`.

Writers serialise on a transaction-scoped advisory lock, so the look-alike check of an enrollment
sees every enrollment committed before it. Every change bumps `registry_version` in `settings_kv`;
readers poll that one row to notice changes made by other servers.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable

import numpy as np
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import SQLAlchemyError

from .calibration import Baseline
from .config import DbTimeouts
from .db import erase, make_engine, reason, safe_url, upgrade
from .errors import RegistryError
from .registry import ENCODING_SIZE, Registry
from .schema import REGISTRY_VERSION_KEY, calibration_baselines_table, enrolled_faces_table, settings_kv_table

REGISTRY_LOCK_ID = 0x66616365  # "face": the advisory lock key of registry writers
_DTYPE = np.dtype("<f8")


class DatabaseRegistry:
    """Enrolled people in the database at `url` (a `RegistryStore`)."""

    def __init__(self, url: str, timeouts: DbTimeouts | None = None) -> None:
        self._url = url
        self._engine = make_engine(url, timeouts)
        self._schema_ready = False

    @property
    def location(self) -> str:
        return f"the database {safe_url(self._url)}"

    def _connect(self) -> Connection:
        if not self._schema_ready:
            upgrade(self._engine)
            self._schema_ready = True
        return self._engine.connect()

    def load(self) -> Registry:
        try:
            with self._connect() as conn:
                return _read(conn)
        except SQLAlchemyError as exc:
            raise RegistryError(f"cannot read the enrolled people from {self.location}: {reason(exc)}") from None

    def version(self) -> Hashable:
        try:
            with self._connect() as conn:
                return conn.scalar(
                    select(settings_kv_table.c.value).where(settings_kv_table.c.key == REGISTRY_VERSION_KEY)
                )
        except SQLAlchemyError as exc:
            raise RegistryError(f"cannot read the enrolled people from {self.location}: {reason(exc)}") from None

    def update(self, change: Callable[[Registry], Registry]) -> Registry:
        erasable: list[str] = []
        try:
            with self._connect() as conn, conn.begin():
                if self._engine.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": REGISTRY_LOCK_ID})
                before = _read(conn)
                after = change(before)
                if _write_baselines(conn, before, after):  # first: it also clears rows left without a person
                    erasable.append(calibration_baselines_table.name)
                if _write_encodings(conn, before, after):
                    erasable.append(enrolled_faces_table.name)
                _bump_version(conn)
        except SQLAlchemyError as exc:
            raise RegistryError(f"cannot change the enrolled people in {self.location}: {reason(exc)}") from None
        if erasable:
            erase(self._engine, tuple(erasable))
        return after

    def close(self) -> None:
        """Close the database connections."""
        self._engine.dispose()


def _read(conn: Connection) -> Registry:
    rows = conn.execute(
        select(enrolled_faces_table.c.name, enrolled_faces_table.c.encoding).order_by(enrolled_faces_table.c.id)
    ).all()
    if not rows:
        return Registry()
    names = tuple(name for name, _ in rows)
    baselines = {}
    table = calibration_baselines_table
    for name, mean, frames, recorded_at, model in conn.execute(
        select(table.c.name, table.c.mean, table.c.frames, table.c.recorded_at, table.c.model)
    ):
        if name not in names:  # left by a server of an earlier build that removed the person
            continue
        try:
            baselines[name] = Baseline.from_plain(
                {"mean": mean, "frames": frames, "recorded_at": recorded_at, "model": model}
            )
        except ValueError as exc:
            raise RegistryError(f"the calibration_baselines table holds a malformed baseline: {exc}") from None
    return Registry(names, np.vstack([_from_bytes(blob) for _, blob in rows]), baselines)


def _write_encodings(conn: Connection, before: Registry, after: Registry) -> bool:
    """Store the encodings of the people whose encodings changed; True if rows were deleted."""
    removed = False
    for name in dict.fromkeys(before.names + after.names):
        old, new = before.encodings_of(name), after.encodings_of(name)
        if old.shape == new.shape and np.array_equal(old, new):
            continue
        removed = removed or len(old) > 0
        conn.execute(delete(enrolled_faces_table).where(enrolled_faces_table.c.name == name))
        if len(new):
            now = time.time()
            conn.execute(
                insert(enrolled_faces_table),
                [{"name": name, "encoding": _to_bytes(row), "enrolled_at": now} for row in new],
            )
    return removed


def _write_baselines(conn: Connection, before: Registry, after: Registry) -> bool:
    """Delete the baselines of people not enrolled before the change, then store those that changed;
    True if rows were deleted or replaced."""
    table = calibration_baselines_table
    orphans = conn.execute(delete(table).where(table.c.name.not_in(select(enrolled_faces_table.c.name)))).rowcount
    removed = orphans > 0
    for name in dict.fromkeys([*before.baselines, *after.baselines]):
        old, new = before.baselines.get(name), after.baselines.get(name)
        if old == new:
            continue
        removed = removed or old is not None
        conn.execute(delete(table).where(table.c.name == name))
        if new is not None:
            conn.execute(insert(table).values(name=name, **new.to_plain()))
    return removed


def _to_bytes(encoding: np.ndarray) -> bytes:
    return np.asarray(encoding, dtype=_DTYPE).tobytes()


def _from_bytes(blob: bytes) -> np.ndarray:
    array = np.frombuffer(blob, dtype=_DTYPE)
    if array.shape != (ENCODING_SIZE,) or not np.all(np.isfinite(array)):
        raise RegistryError("the enrolled_faces table holds a malformed encoding")
    return array.astype(np.float64)


def _bump_version(conn: Connection) -> None:
    """Set a new `registry_version` (a fresh value, so readers never miss a change)."""
    value = secrets.token_hex(8)
    table = settings_kv_table
    if conn.dialect.name == "postgresql":
        statement = pg_insert(table).values(key=REGISTRY_VERSION_KEY, value=value)
        conn.execute(statement.on_conflict_do_update(index_elements=[table.c.key], set_={"value": value}))
        return
    done = conn.execute(update(table).where(table.c.key == REGISTRY_VERSION_KEY).values(value=value)).rowcount
    if not done:
        conn.execute(insert(table).values(key=REGISTRY_VERSION_KEY, value=value))
