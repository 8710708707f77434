"""One SQLAlchemy engine per database URL for the access-control tables (accounts, audit log)."""

from __future__ import annotations

import threading

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from .db import make_engine
from .errors import StoreError

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_created: set[tuple[str, int]] = set()


def shared_engine(url: str, metadata: MetaData) -> Engine:
    """The process-wide engine for `url`, with the tables of `metadata` created if missing.

    Raises `StoreError` for an unusable URL or a database that refuses to create the tables.
    """
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(url)
        if (url, id(metadata)) not in _created:
            try:
                metadata.create_all(engine)
            except SQLAlchemyError as exc:
                raise database_error("create the access tables", exc) from None
            _created.add((url, id(metadata)))
        return engine


def database_error(doing: str, exc: SQLAlchemyError) -> StoreError:
    """A one-line `StoreError` saying what could not be done and why."""
    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return StoreError(f"cannot {doing}: {reason}")


def checkpoint(engine: Engine) -> None:
    """Move SQLite's write-ahead log into the database file, so that overwritten values do not linger."""
    if engine.dialect.name == "sqlite":
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        except SQLAlchemyError:
            pass  # a busy database keeps its log until the next checkpoint
