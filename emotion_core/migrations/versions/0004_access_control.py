"""Access control: local accounts, sign-in failures, access settings and the audit log.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

from emotion_core import accounts, audit

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The tables as the modules that own them define them (created only where missing: servers
    # of the first access-control build made them without a migration).
    for metadata in (accounts.metadata, audit.metadata):
        metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    for metadata in (audit.metadata, accounts.metadata):
        metadata.drop_all(op.get_bind())
