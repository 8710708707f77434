"""Several app servers on one database: tombstones of deletes, the shared face registry.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("deleted_at", sa.Double, nullable=False),
    )
    op.create_table(
        "forgotten_people",
        sa.Column("name_hash", sa.String(64), primary_key=True),
        sa.Column("forgotten_at", sa.Double, nullable=False),
    )
    op.create_table(
        "enrolled_faces",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, index=True),
        sa.Column("encoding", sa.LargeBinary, nullable=False),
        sa.Column("enrolled_at", sa.Double, nullable=False),
    )
    op.create_table(
        "settings_kv",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # No statistics on name columns: ANALYZE would copy common names into pg_statistic, which
        # only a superuser could clean after a forget. Queries by name use the indexes anyway.
        op.execute("ALTER TABLE observations ALTER COLUMN person SET STATISTICS 0")
        op.execute("ALTER TABLE enrolled_faces ALTER COLUMN name SET STATISTICS 0")


def downgrade() -> None:
    for table in ("settings_kv", "enrolled_faces", "forgotten_people", "deleted_sessions"):
        op.drop_table(table)
