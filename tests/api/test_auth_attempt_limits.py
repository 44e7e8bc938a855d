"""Guessing credentials is held back: after a few failures from one client
address, every attempt with that kind of credential gets ``429`` and
``Retry-After``, on every bearer-authenticated endpoint (both CI protocols,
the read and config APIs); other addresses and other kinds are unaffected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clef_pro.domain import apikeys
from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.contract import sha, spec_report
from tests.support.service import ADMIN_TOKEN, ServiceClient, admin_headers

Opener = Callable[..., AbstractContextManager[TestClient]]
PROXY = ("10.0.0.0/24",)


@pytest.fixture
def open_service(settings: Settings) -> Opener:
    @contextmanager
    def open_client(address: str = "10.0.0.5", **overrides: Any) -> Iterator[TestClient]:
        configured = settings.model_copy(
            update={
                "notify_sender": False,
                "auth_failure_burst": 3,
                "proxy_trusted_addresses": PROXY,
                **overrides,
            }
        )
        with TestClient(create_app(configured), client=(address, 50000)) as http:
            yield http

    return open_client


def from_address(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wrong_key() -> str:
    return apikeys.generate_api_key()


def test_wrong_admin_tokens_are_held_back_with_retry_after(open_service: Opener) -> None:
    with open_service() as http:
        guesser = from_address("203.0.113.7")
        for _ in range(3):
            response = http.get(
                "/api/v1/integrations", headers={**guesser, **bearer("guess-" + "x" * 30)}
            )
            assert response.status_code == 401
        held = http.get("/api/v1/integrations", headers={**guesser, **admin_headers()})
        assert held.status_code == 429
        assert int(held.headers["retry-after"]) >= 1
        put = http.put(
            "/admin/v1/integrations/acme",
            json={"displayName": "Acme"},
            headers={**guesser, **admin_headers()},
        )
        assert put.status_code == 429
        # Another client behind the same proxy is not held back.
        other = http.get(
            "/api/v1/integrations", headers={**from_address("198.51.100.2"), **admin_headers()}
        )
        assert other.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/reports", spec_report(sha("a1"), timestamp=1)),
        ("POST", "/api/v1/reports/batch", {"reports": [spec_report(sha("a1"), timestamp=1)]}),
        ("GET", "/api/v1/integrations/acme", None),
        ("POST", "/v1/logs", {"resourceLogs": []}),
        ("GET", "/v1/checkpoint", None),
    ],
)
def test_wrong_api_keys_are_held_back_on_every_ci_endpoint(
    open_service: Opener, method: str, path: str, body: Any
) -> None:
    with open_service() as http:
        (key,) = ServiceClient(http).put_integration("acme")
        guesser = from_address("203.0.113.7")
        for _ in range(3):
            response = http.request(
                method, path, json=body, headers={**guesser, **bearer(wrong_key())}
            )
            assert response.status_code == 401, response.text
        held = http.request(method, path, json=body, headers={**guesser, **bearer(key)})
        assert held.status_code == 429, held.text
        assert int(held.headers["retry-after"]) >= 1
        # x-api-key counts the same as a bearer key.
        held = http.request(method, path, json=body, headers={**guesser, "x-api-key": key})
        assert held.status_code == 429
        fine = http.request(
            method, path, json=body, headers={**from_address("198.51.100.2"), **bearer(key)}
        )
        assert fine.status_code in (200, 404), fine.text


def test_each_kind_of_credential_is_limited_on_its_own(open_service: Opener) -> None:
    with open_service() as http:
        (key,) = ServiceClient(http).put_integration("acme")
        guesser = from_address("203.0.113.7")
        for _ in range(4):
            http.post("/api/v1/reports", json={}, headers={**guesser, **bearer(wrong_key())})
        assert (
            http.get("/api/v1/integrations", headers={**guesser, **admin_headers()}).status_code
            == 200
        )
        assert http.get("/v1/checkpoint", headers={**guesser, **bearer(key)}).status_code == 429


def test_without_a_trusted_proxy_the_peer_address_is_counted(open_service: Opener) -> None:
    with open_service(address="203.0.113.50", proxy_trusted_addresses=()) as http:
        for number in range(3):
            # A forwarded-for header from an untrusted peer changes nothing.
            headers = {**from_address(f"198.51.100.{number}"), **bearer("guess-" + "x" * 30)}
            assert http.get("/api/v1/integrations", headers=headers).status_code == 401
        headers = {**from_address("198.51.100.99"), **bearer(ADMIN_TOKEN)}
        assert http.get("/api/v1/integrations", headers=headers).status_code == 429


def test_a_rate_of_zero_turns_the_limit_off(open_service: Opener) -> None:
    with open_service(auth_failure_rate_per_second=0) as http:
        for _ in range(10):
            assert (
                http.get("/api/v1/integrations", headers=bearer("guess-" + "x" * 30)).status_code
                == 401
            )
        assert http.get("/api/v1/integrations", headers=admin_headers()).status_code == 200
