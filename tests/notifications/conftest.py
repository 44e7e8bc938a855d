"""Fixtures of the notification tests: a real SMTP server and the service pointed at it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.alertmanager import Alertmanager, running_alertmanager
from tests.support.alertmanager import build as build_alertmanager
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer

#: Small timings so outages, retries and claims play out in a second or two.
FAST: dict[str, Any] = {
    "notify_poll_seconds": 0.1,
    "notify_retry_base_seconds": 0.1,
    "notify_retry_max_seconds": 0.4,
    "smtp_timeout_seconds": 5.0,
    "webhook_timeout_seconds": 5.0,
    "notify_lease_seconds": 10.0,
    "notify_check_seconds": 0.2,
    "smtp_from": "Clef Pro <alerts@clef.example>",
    "public_url": "https://clef.example",
    # The test receivers listen on loopback, which is refused unless allowed.
    "notify_allowed_networks": ("127.0.0.0/8",),
}
#: The same, for real ``clef-pro serve`` processes.
FAST_ENV: dict[str, str] = {
    f"CLEF_PRO_{name.upper()}": ",".join(value) if isinstance(value, tuple) else str(value)
    for name, value in FAST.items()
}


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


ServiceFactory = Callable[..., AbstractContextManager[ServiceClient]]


@pytest.fixture
def notifying_service(settings: Settings) -> ServiceFactory:
    """The service in-process with the sender running; ``**overrides`` are settings."""

    @contextmanager
    def open_service(**overrides: Any) -> Iterator[ServiceClient]:
        configured = settings.model_copy(update={**FAST, **overrides})
        with TestClient(create_app(configured)) as http:
            yield ServiceClient(http)

    return open_service


@pytest.fixture
def mail_service(
    notifying_service: ServiceFactory, smtp_server: SmtpServer
) -> Iterator[ServiceClient]:
    with notifying_service(smtp_host=smtp_server.host, smtp_port=smtp_server.port) as client:
        yield client


def wait_settled(client: ServiceClient, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until nothing is pending, sending or retrying; returns the backlog."""
    deadline = time.monotonic() + timeout
    while True:
        backlog: dict[str, Any] = client.read("/api/v1/notifications/status")["backlog"]
        if backlog["pending"] == backlog["sending"] == backlog["retrying"] == 0:
            return backlog
        if time.monotonic() > deadline:
            raise AssertionError(f"the outbox did not settle: {backlog}")
        time.sleep(0.05)


def notifications(client: ServiceClient, integration_id: str, **params: Any) -> list[Any]:
    items: list[Any] = client.read(
        f"/api/v1/integrations/{integration_id}/notifications", limit=500, **params
    )["items"]
    return items


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    """A real Alertmanager on loopback (built from its Go module if needed)."""
    with running_alertmanager(tmp_path / "alertmanager") as manager:
        yield manager


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build Alertmanager before the first test, outside any per-test timeout."""
    if session.config.option.collectonly:
        return
    if any(item.get_closest_marker("alertmanager") for item in session.items):
        build_alertmanager()
