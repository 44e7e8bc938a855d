"""keyset listings: alerts paged newest opened first, with or without a status

The alert listings of the read API and the dashboard are keyset-paged on
(opened, id); these indexes give each page in order from its cursor at any
history size, and the dashboard's open-alert counts (by acknowledgement) from
the index alone on Postgres. The listing index starts with the columns of
``ix_alerts_integration_status``, so it replaces it. The notification listing
filtered by status or channel gets an index per filter, so a rare status
(``dead``) does not scan the whole outbox history for a page.

Revision ID: 0007_keyset_listings
Revises: 0006_alert_history_indexes
"""

from __future__ import annotations

from alembic import op

revision = "0007_keyset_listings"
down_revision = "0006_alert_history_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_listing",
            ["integration_id", "status", "opened_at", "id"],
            unique=False,
            postgresql_include=["acknowledged"],
        )
        batch_op.create_index(
            "ix_alerts_opened", ["integration_id", "opened_at", "id"], unique=False
        )
        batch_op.drop_index("ix_alerts_integration_status")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_status_listing",
            ["integration_id", "status", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_notifications_channel_listing",
            ["integration_id", "channel_name", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_channel_listing")
        batch_op.drop_index("ix_notifications_status_listing")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alerts_integration_status", ["integration_id", "status"], unique=False
        )
        batch_op.drop_index("ix_alerts_opened")
        batch_op.drop_index("ix_alerts_listing")
