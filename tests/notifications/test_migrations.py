"""The models and the migrations describe the same schema, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

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
