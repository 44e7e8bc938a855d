"""api key expiry: a rotated-out key works until its grace period ends

Revision ID: 0005_api_key_expiry
Revises: 0004_otlp_results
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_api_key_expiry"
down_revision = "0004_otlp_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
