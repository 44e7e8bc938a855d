"""alert history indexes: an alert's timeline paged by time, resolutions by time

An alert's events are read newest first a page at a time (an alert can recur
on thousands of reports), and the mean time to resolve reads one window of
resolutions: both by index, at any history size.

Revision ID: 0006_alert_history_indexes
Revises: 0005_api_key_expiry
"""

from __future__ import annotations

from alembic import op

revision = "0006_alert_history_indexes"
down_revision = "0005_api_key_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_events_timeline", ["alert_id", "created_at", "report_id"], unique=False
        )
        # The timeline's index starts with alert_id: it serves every lookup this did.
        batch_op.drop_index("ix_alert_events_alert_id")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_resolved", ["integration_id", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_resolved")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_alert_id", ["alert_id"], unique=False)
        batch_op.drop_index("ix_alert_events_timeline")
