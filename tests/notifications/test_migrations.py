"""The models and the migrations describe the same schema, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from clef_pro_api.storage.migrate import alembic_config, upgrade


@pytest.mark.postgres
def test_postgres_schema_matches_the_models(database_url: str) -> None:
    # The per-test database is a clone of the migrated template.
    command.check(alembic_config(database_url))


def test_sqlite_schema_matches_the_models_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
    upgrade(url)
    command.check(alembic_config(url))
    command.downgrade(alembic_config(url), "0001")
    upgrade(url)
    command.check(alembic_config(url))


def _integrations_at_0006(url: str) -> None:
    command.upgrade(alembic_config(url), "0006_alert_history_indexes")
    engine = create_engine(url)
    with engine.begin() as connection:
        for integration_id, config in (
            ("owned", {"displayName": "O", "source": {"namespace": "team-a", "name": "owned"}}),
            ("by-hand", {"displayName": "H"}),
        ):
            connection.execute(
                text(
                    "INSERT INTO integrations (id, display_name, config, created_at, updated_at) "
                    "VALUES (:id, :name, :config, :now, :now)"
                ),
                {
                    "id": integration_id,
                    "name": config["displayName"],
                    "config": json.dumps(config),
                    "now": datetime.now(UTC),
                },
            )
    engine.dispose()


def _owners(url: str) -> dict[str, tuple[str | None, str | None, str | None]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, owner_namespace, owner_name, owner_uid FROM integrations")
        ).all()
    engine.dispose()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def test_existing_operator_integrations_get_their_owner_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
    _integrations_at_0006(url)
    upgrade(url)
    assert _owners(url) == {"owned": ("team-a", "owned", None), "by-hand": (None, None, None)}


@pytest.mark.postgres
def test_existing_operator_integrations_get_their_owner_on_postgres(database_url: str) -> None:
    url = database_url
    command.downgrade(alembic_config(url), "0006_alert_history_indexes")
    _integrations_at_0006(url)
    upgrade(url)
    assert _owners(url) == {"owned": ("team-a", "owned", None), "by-hand": (None, None, None)}
