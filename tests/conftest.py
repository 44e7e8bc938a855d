"""Shared fixtures: a real PostgreSQL for the whole session, a fresh database
per test, and the service over it (in-process or as a real server)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.postgres import Databases, PostgresServer, start_postgres
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def databases(postgres: PostgresServer) -> Databases:
    return Databases(postgres)


@pytest.fixture
def database_url(databases: Databases) -> Iterator[str]:
    for name in databases.fresh():
        yield databases.server.url(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path,
        auto_migrate=False,
    )


@pytest.fixture
def service(settings: Settings) -> Iterator[ServiceClient]:
    """The service in-process (ASGI) over a fresh Postgres database."""
    with TestClient(create_app(settings)) as http:
        yield ServiceClient(http)


@pytest.fixture
def server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "CLEF_PRO_DATABASE_URL": database_url,
        "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLEF_PRO_DATA_DIR": str(tmp_path / "data"),
        "CLEF_PRO_LOG_LEVEL": "warning",
    }


@pytest.fixture
def start_service(
    server_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start real ``clef-pro serve`` processes; all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(**extra_env: str) -> ServerProcess:
        log = tmp_path / f"server-{len(started)}.log"
        server = start_server({**server_env, **extra_env}, log)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
