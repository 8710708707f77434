"""The emotion log: sessions and observations.

Databases created before migrations existed already have both tables; they are kept as they are.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "sessions" not in existing:
        op.create_table(
            "sessions",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("started_at", sa.Double, nullable=False),
            sa.Column("ended_at", sa.Double),
            sa.Column("model", sa.String(64)),
            sa.Column("settings", sa.JSON(none_as_null=True), nullable=False),
            sa.Column("final", sa.JSON(none_as_null=True)),
        )
    if "observations" not in existing:
        op.create_table(
            "observations",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
            sa.Column(
                "session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True
            ),
            sa.Column("timestamp", sa.Double, nullable=False),
            sa.Column("person", sa.String(200), nullable=False, index=True),
            sa.Column("emotion", sa.String(16), nullable=False),
            sa.Column("probability", sa.Double, nullable=False),
        )


def downgrade() -> None:
    op.drop_table("observations")
    op.drop_table("sessions")
