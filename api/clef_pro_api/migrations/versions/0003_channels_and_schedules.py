"""channels and schedules: repeat intervals, acknowledgement expiry, silence checks,
Alertmanager refreshes, and messages that no report caused

Revision ID: 0003_channels_and_schedules
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0003_channels_and_schedules"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_head_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("silence_check_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resend_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_integrations_silence_check_at"), ["silence_check_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_integrations_resend_at"), ["resend_at"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("acknowledged_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("notified_at", JSON_DOCUMENT, nullable=True))
        batch_op.create_index(
            "ix_alerts_acknowledgement_expiry",
            ["acknowledged_until"],
            unique=False,
            postgresql_where=sa.text("acknowledged_until IS NOT NULL"),
            sqlite_where=sa.text("acknowledged_until IS NOT NULL"),
        )

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("report_id", existing_type=sa.String(length=36), nullable=True)


def downgrade() -> None:
    # Messages that no report caused have no place in the older schema.
    op.execute(sa.text("DELETE FROM notifications WHERE report_id IS NULL"))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.alter_column("report_id", existing_type=sa.String(length=36), nullable=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_acknowledgement_expiry")
        batch_op.drop_column("notified_at")
        batch_op.drop_column("acknowledged_until")

    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrations_resend_at"))
        batch_op.drop_index(batch_op.f("ix_integrations_silence_check_at"))
        batch_op.drop_column("resend_at")
        batch_op.drop_column("silence_check_at")
        batch_op.drop_column("last_head_at")
