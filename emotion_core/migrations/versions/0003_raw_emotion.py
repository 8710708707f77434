"""Calibration: each observation keeps the uncalibrated emotion next to the one counted.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("observations", sa.Column("raw_emotion", sa.String(16)))


def downgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("raw_emotion")
