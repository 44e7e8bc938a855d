"""otlp results: the latest lint and drift pushes of today's CLI, with their history

Revision ID: 0004_otlp_results
Revises: 0003_channels_and_schedules
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

#: JSONB on Postgres (indexable, compact), JSON text on SQLite.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004_otlp_results"
down_revision = "0003_channels_and_schedules"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("integration_id", sa.String(length=128), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cli_version", sa.String(length=64), nullable=False),
    ]


def _tail() -> list[sa.Column[object]]:
    return [
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("document", JSON_DOCUMENT, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    for table, counts in (
        (
            "lint_results",
            ("file_count", "pending_count", "error_count", "warning_count", "info_count"),
        ),
        ("drift_results", ("namespaces_compared", "namespaces_clean", "issue_count")),
    ):
        op.create_table(
            table,
            *_common(),
            *(sa.Column(name, sa.Integer(), nullable=False) for name in counts),
            *_tail(),
            sa.ForeignKeyConstraint(
                ["integration_id"],
                ["integrations.id"],
                name=op.f(f"fk_{table}_integration_id_integrations"),
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("integration_id", "digest", name=f"uq_{table}_integration_digest"),
        )
        op.create_index(
            f"ix_{table}_history", table, ["integration_id", "pushed_at", "id"], unique=False
        )


def downgrade() -> None:
    for table in ("drift_results", "lint_results"):
        op.drop_index(f"ix_{table}_history", table_name=table)
        op.drop_table(table)
