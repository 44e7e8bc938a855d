"""The service's settings: one pydantic-settings class, environment prefix ``CLEF_PRO_``.

Every knob of the service is declared here and nowhere else; the Helm chart and
the README document these names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("clef-pro", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEF_PRO_", extra="ignore", frozen=True)

    #: ``postgresql+psycopg://...`` for production; absent means an embedded
    #: SQLite file in ``data_dir``.
    database_url: str | None = None
    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Connections each replica keeps to Postgres (the pool's size).
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = 10

    #: Bearer token of the config and read APIs in standalone mode. Prefer
    #: ``admin_token_file`` (a mounted Secret) to an environment variable.
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None

    #: Largest request body of ``POST /api/v1/reports`` (bytes).
    max_report_bytes: Annotated[int, Field(ge=1024)] = 1 * 1024 * 1024
    #: Largest request body of ``POST /api/v1/reports/batch`` and the config API.
    max_batch_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024

    #: Where people reach the dashboard; used in links that leave the service.
    public_url: str = "http://127.0.0.1:8000"
    #: Apply migrations at start-up. Turn off where a migration job owns them
    #: (the Helm chart does); the service then refuses to start on an old schema.
    auto_migrate: bool = True
    log_level: str = "info"

    @field_validator("database_url")
    @classmethod
    def _postgres_or_sqlite(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql+psycopg://", "sqlite:")):
            raise ValueError(
                "CLEF_PRO_DATABASE_URL must be a postgresql+psycopg:// URL "
                "(or unset for the embedded SQLite database)"
            )
        return value

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite:")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'clef-pro.db'}"

    @property
    def admin_token_value(self) -> str | None:
        """The admin token, read from its file if one is given (files win).

        Read on every use, so a rotated Kubernetes Secret takes effect without
        a restart."""
        if self.admin_token_file is not None:
            return self.admin_token_file.read_text().strip() or None
        return self.admin_token.get_secret_value() if self.admin_token else None
