"""The database tables, as SQLAlchemy Core objects (the Alembic migrations create them).

- `sessions`, `observations`: the emotion log (one row per stored observation, strangers included).
- `deleted_sessions`: ids of deleted sessions, so that late rows from another server are refused.
- `forgotten_people`: salted hashes (never names) of forgotten people, for the same reason.
- `enrolled_faces`: the face registry when the database is a server shared by several app servers.
- `calibration_baselines`: the resting-face baselines of people in `enrolled_faces` (one row each).
- `settings_kv`: the salt of the hashes and the registry's change counter.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

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
    Column("raw_emotion", String(16)),  # before calibration; NULL when the reading was not calibrated
)
deleted_sessions_table = Table(
    "deleted_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("deleted_at", Double, nullable=False),
)
forgotten_people_table = Table(
    "forgotten_people",
    metadata,
    Column("name_hash", String(64), primary_key=True),
    Column("forgotten_at", Double, nullable=False),
)
enrolled_faces_table = Table(
    "enrolled_faces",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, index=True),
    Column("encoding", LargeBinary, nullable=False),  # 128 little-endian float64
    Column("enrolled_at", Double, nullable=False),
)
calibration_baselines_table = Table(
    "calibration_baselines",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("mean", JSON, nullable=False),  # label -> mean probability (calibration.Baseline.mean)
    Column("frames", Integer, nullable=False),
    Column("recorded_at", Double, nullable=False),
    Column("model", String(64), nullable=False),
)
settings_kv_table = Table(
    "settings_kv",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

SALT_KEY = "name_hash_salt"
REGISTRY_VERSION_KEY = "registry_version"

ERASABLE_TABLES = ("observations", "sessions", "enrolled_faces", "calibration_baselines")
"""Tables whose deleted rows held names (vacuumed and reindexed after deletes on PostgreSQL)."""
