"""dashboard sessions and integration owners

Dashboard sessions are kept server-side so signing out ends them at once (a
signed cookie alone stays valid until it expires). Each integration records
the Integration resource that owns its id, so another namespace cannot take
it over; existing operator-managed integrations are backfilled from the
source their stored config names (the uid is recorded at the next sync).

Revision ID: 0008_dashboard_sessions
Revises: 0007_keyset_listings
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008_dashboard_sessions"
down_revision = "0007_keyset_listings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
    )
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_sessions_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_namespace", sa.String(length=63), nullable=True))
        batch_op.add_column(sa.Column("owner_name", sa.String(length=253), nullable=True))
        batch_op.add_column(sa.Column("owner_uid", sa.String(length=64), nullable=True))
    _backfill_owners()


def _backfill_owners() -> None:
    bind = op.get_bind()
    integrations = sa.table(
        "integrations",
        sa.column("id", sa.String),
        sa.column("config", sa.JSON),
        sa.column("owner_namespace", sa.String),
        sa.column("owner_name", sa.String),
    )
    rows = bind.execute(sa.select(integrations.c.id, integrations.c.config)).all()
    for integration_id, config in rows:
        document: Any = json.loads(config) if isinstance(config, str) else config
        source = (document or {}).get("source") if isinstance(document, dict) else None
        if isinstance(source, dict) and source.get("namespace") and source.get("name"):
            bind.execute(
                integrations.update()
                .where(integrations.c.id == integration_id)
                .values(owner_namespace=source["namespace"], owner_name=source["name"])
            )


def downgrade() -> None:
    with op.batch_alter_table("integrations", schema=None) as batch_op:
        batch_op.drop_column("owner_uid")
        batch_op.drop_column("owner_name")
        batch_op.drop_column("owner_namespace")
    with op.batch_alter_table("dashboard_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_sessions_expires_at"))
    op.drop_table("dashboard_sessions")
