"""Database plumbing shared by the emotion log and the database registry.

- `make_engine`: an engine with bounded waits (connect, lock and statement timeouts on PostgreSQL;
  the busy timeout on SQLite), so a stuck database never hangs a page, the frame path or a command.
- `upgrade`: Alembic migrations to the newest schema, run once under a database-wide lock
  (`pg_advisory_lock` on PostgreSQL, a file lock beside a SQLite file), so servers that start
  together do not race to create tables.
- `erase`: after deletes, make the deleted rows unreadable from the database files.
- `name_hash`: the salted hash kept in tombstones instead of a person's name.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, event, insert, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from .config import DbTimeouts
from .errors import StoreError
from .schema import SALT_KEY, settings_kv_table

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK_ID = 0x656D6F74  # "emot": the advisory lock key of schema upgrades
MIGRATION_WAIT_S = 60.0
"""Longest wait for another server's schema upgrade to finish."""
ERASE_STATEMENT_TIMEOUT_S = 300.0
"""VACUUM and REINDEX of a large table take longer than one ordinary statement may."""


def parse_url(url: str) -> URL:
    """The parsed SQLAlchemy URL; `StoreError` if `url` is not one."""
    try:
        return make_url(url)
    except ArgumentError:
        raise StoreError(f"not a database URL: {url!r}") from None


def is_server_url(url: str) -> bool:
    """True when `url` names a database server (a usable dialect other than SQLite), which several app
    servers may share; an unusable URL is not one (the emotion log reports it)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return False
    try:
        parsed.get_dialect()
    except (NoSuchModuleError, ImportError):
        return False
    return True


def safe_url(url: str) -> str:
    """`url` with its password hidden, for messages; an unparsable URL shows its scheme only."""
    try:
        return parse_url(url).render_as_string(hide_password=True)
    except StoreError:
        return url.split("://", 1)[0] + "://…"


def reason(exc: BaseException) -> str:
    """The first line of the database's own message for `exc`."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


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


def _query_values(url: URL, key: str) -> list[str]:
    value = url.query.get(key)
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def make_engine(url: str, timeouts: DbTimeouts | None = None) -> Engine:
    """An engine for `url` whose waits are bounded by `timeouts`; `StoreError` for an unusable URL."""
    timeouts = timeouts or DbTimeouts()
    parsed = parse_url(url)
    options: dict[str, Any] = {"pool_pre_ping": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        options["connect_args"] = {"timeout": timeouts.lock_s, "check_same_thread": False}
        if parsed.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one shared in-memory database for every thread
    elif backend == "postgresql":
        if parsed.get_driver_name() in ("", "psycopg2"):
            parsed = parsed.set(drivername="postgresql+psycopg")  # the driver the project installs
        # Server-side limits come from the URL's options when it sets them, else from the settings.
        server_options = (
            f"-c lock_timeout={int(timeouts.lock_s * 1000)} -c statement_timeout={int(timeouts.statement_s * 1000)}"
        )
        options["connect_args"] = {
            "connect_timeout": max(1, math.ceil(timeouts.connect_s)),
            "options": " ".join([server_options, *_query_values(parsed, "options")]),
            "application_name": "emotion-core",
        }
        parsed = parsed.difference_update_query(["options"])
        options["pool_timeout"] = timeouts.connect_s
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot use database URL {parsed.render_as_string(hide_password=True)}: {exc}") from None
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The schema revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection holding the database-wide schema-upgrade lock."""
    backend = engine.dialect.name
    database = engine.url.database
    if backend == "sqlite":
        if database in (None, "", ":memory:") or str(database).startswith("file:"):
            with engine.connect() as conn:
                yield conn
            return
        from filelock import FileLock, Timeout

        try:
            with FileLock(f"{database}.migrate.lock", timeout=MIGRATION_WAIT_S), engine.connect() as conn:
                yield conn
        except Timeout:
            raise StoreError(f"another process has been upgrading {database} for {MIGRATION_WAIT_S:.0f} s") from None
        return
    with engine.connect() as conn:
        if backend == "postgresql":
            deadline = time.monotonic() + MIGRATION_WAIT_S
            while not conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": MIGRATION_LOCK_ID}):
                conn.rollback()
                if time.monotonic() > deadline:
                    raise StoreError(f"another server has been upgrading the database for {MIGRATION_WAIT_S:.0f} s")
                time.sleep(0.1)
            conn.commit()
        try:
            yield conn
        finally:
            if backend == "postgresql":
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_ID})
                conn.commit()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; True if a migration ran (False: already current).

    Raises `SQLAlchemyError` when the database refuses; callers report it their way.
    """
    head = _head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return False
    from alembic import command

    with _migration_lock(engine) as conn:
        if current_revision(conn) == head:  # another server upgraded while we waited
            return False
        command.upgrade(_alembic_config(conn), "head")
        conn.commit()
    logger.info("database schema upgraded to %s", head)
    return True


def upgrade_url(url: str, timeouts: DbTimeouts | None = None) -> bool:
    """`upgrade` the database at `url`; `StoreError` with the database's reason if it refuses."""
    engine = make_engine(url, timeouts)
    try:
        return upgrade(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database {safe_url(url)}: {reason(exc)}") from None
    finally:
        engine.dispose()


def salt(conn: Connection) -> str:
    """This database's salt for name hashes (created on first use, shared by every server)."""
    value = conn.scalar(select(settings_kv_table.c.value).where(settings_kv_table.c.key == SALT_KEY))
    if value is not None:
        return str(value)
    candidate = secrets.token_hex(16)
    try:
        with conn.begin_nested():
            conn.execute(insert(settings_kv_table).values(key=SALT_KEY, value=candidate))
        return candidate
    except IntegrityError:  # another server created it first
        return str(conn.scalar(select(settings_kv_table.c.value).where(settings_kv_table.c.key == SALT_KEY)))


def name_hash(salt_value: str, name: str) -> str:
    """The salted SHA-256 of `name` kept in tombstones (the name itself is never stored there)."""
    return hashlib.sha256(f"{salt_value}\x00{name}".encode()).hexdigest()


def erase(engine: Engine, tables: tuple[str, ...]) -> None:
    """Make deleted rows of `tables` unreadable from the database files.

    SQLite: `secure_delete` zeroed them; the write-ahead log is checkpointed and truncated.
    PostgreSQL: VACUUM FULL rewrites each table and its indexes into new files without the deleted
    rows (a plain VACUUM leaves their bytes in the pages' free space and in index pages); name
    columns keep no statistics (migration 0002), so pg_statistic never holds a name. All of it works
    for the table owner, no superuser needed. VACUUM FULL locks the table while
    it runs: other servers' writes wait (at most the lock timeout, then the write-behind queue
    retries). The write-ahead log keeps the rows until it is recycled (docs/privacy-security.md).
    Failures are logged, not raised: the rows are deleted either way.
    """
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            if engine.dialect.name != "postgresql":
                return
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql(f"SET statement_timeout = {int(ERASE_STATEMENT_TIMEOUT_S * 1000)}")
            for table in tables:
                conn.exec_driver_sql(f"VACUUM (FULL, ANALYZE) {table}")
    except SQLAlchemyError as exc:
        logger.warning("erasing deleted rows from the database files failed: %s", reason(exc))
