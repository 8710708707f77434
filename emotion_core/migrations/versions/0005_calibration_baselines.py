"""Calibration baselines of the people in the database registry (one row per calibrated person).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "calibration_baselines" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table(
        "calibration_baselines",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("mean", sa.JSON, nullable=False),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.Double, nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        # No statistics on the name column, as for the other name columns (migration 0002).
        op.execute("ALTER TABLE calibration_baselines ALTER COLUMN name SET STATISTICS 0")


def downgrade() -> None:
    op.drop_table("calibration_baselines")
