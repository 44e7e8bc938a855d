"""Fixtures of the dashboard's HTTP tests: the app in-process over Postgres,
seen from a chosen client address (proxy mode trusts addresses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.dashboard import Seeded, seed
from tests.support.service import ADMIN_TOKEN, ServiceClient

Opener = Callable[..., AbstractContextManager[TestClient]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/dashboard/" in str(item.fspath):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def open_dashboard(settings: Settings) -> Opener:
    """``open_dashboard(address="127.0.0.1", **settings)``: a client of the app
    that does not follow redirects, so tests see each one."""

    @contextmanager
    def open_client(address: str = "127.0.0.1", **overrides: Any) -> Iterator[TestClient]:
        configured = settings.model_copy(update={"notify_sender": False, **overrides})
        with TestClient(
            create_app(configured), client=(address, 50000), follow_redirects=False
        ) as http:
            yield http

    return open_client


@pytest.fixture
def http(open_dashboard: Opener) -> Iterator[TestClient]:
    with open_dashboard() as client:
        yield client


@pytest.fixture
def seeded(http: TestClient) -> Seeded:
    return seed(ServiceClient(http))


def sign_in(http: TestClient, token: str = ADMIN_TOKEN, next_path: str = "/") -> Any:
    return http.post("/sign-in", data={"token": token, "next": next_path})


def csrf_of(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]
