"""Input PostgreSQL cannot store or compare is a 4xx naming the field, on both databases.

A NUL in a string, an integer beyond 64 bits, NaN or Infinity: PostgreSQL's
driver fails on them (a 500) where SQLite quietly stores or looks them up.
Each is refused before any query, with the same answer on both databases,
and nothing of a refused config is stored.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from clef_pro_api.storage.migrate import upgrade
from tests.support.contract import example
from tests.support.service import ADMIN_TOKEN, ServiceClient, admin_headers


@pytest.fixture(params=["sqlite", "postgres"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceClient]:
    """The service in-process over SQLite, then over a fresh Postgres database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("database_url")
    settings = Settings(
        database_url=url, admin_token=ADMIN_TOKEN, data_dir=tmp_path, auto_migrate=False
    )
    with TestClient(create_app(settings)) as http:
        yield ServiceClient(http)


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [entry["field"] for entry in response.json()["detail"]]


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


READ_PATHS = [
    ("/api/v1/integrations/a%00b", "integration_id"),
    ("/api/v1/integrations/a%00b/matrix", "integration_id"),
    ("/api/v1/integrations/a%00b/reports", "integration_id"),
    ("/api/v1/integrations/a%00b/lint-results", "integration_id"),
    ("/api/v1/integrations/a%00b/drift-results", "integration_id"),
    ("/api/v1/integrations/a%00b/alerts", "integration_id"),
    ("/api/v1/integrations/a%00b/notifications", "integration_id"),
    ("/api/v1/integrations/acme/notifications?channel=a%00b", "channel"),
    ("/api/v1/notifications/a%00b", "notification_id"),
    ("/api/v1/alerts/a%00b/notifications", "alert_id"),
    ("/admin/v1/integrations/a%00b/status", "integration_id"),
]


def test_a_nul_in_a_path_id_or_query_is_a_422_naming_it(both: ServiceClient) -> None:
    both.put_integration("acme")
    for path, field in READ_PATHS:
        assert _fields(both.http.get(path, headers=admin_headers())) == [field], path
    acknowledged = both.http.post("/api/v1/alerts/a%00b/acknowledge", headers=admin_headers())
    assert _fields(acknowledged) == ["alert_id"]
    deleted = both.http.delete("/admin/v1/integrations/a%00b", headers=admin_headers())
    assert _fields(deleted) == ["integration_id"]


OUT_OF_RANGE_CURSORS = [
    '[1e30,"x"]',
    f'[{2**63},"x"]',
    f'[{-(2**63) - 1},"x"]',
    '[5,"\\u0000"]',
    '["2026-01-01T00:00:00+00:00","\\u0000"]',
    '["2026-01-01T00:00:00+00:00\\u0000","x"]',
    f'[5,"{"x" * 65}"]',
]


@pytest.mark.parametrize("raw", OUT_OF_RANGE_CURSORS)
def test_a_cursor_out_of_range_or_with_a_nul_is_a_422_naming_it(
    both: ServiceClient, raw: str
) -> None:
    both.put_integration("acme")
    for listing in ("reports", "lint-results", "drift-results", "notifications"):
        response = both.http.get(
            f"/api/v1/integrations/acme/{listing}",
            params={"cursor": _cursor(raw)},
            headers=admin_headers(),
        )
        assert _fields(response) == ["cursor"], listing


def test_a_push_time_cursor_beyond_the_calendar_is_a_422(both: ServiceClient) -> None:
    # Within 64 bits, but microseconds past the year 9999.
    both.put_integration("acme")
    for listing in ("lint-results", "drift-results"):
        response = both.http.get(
            f"/api/v1/integrations/acme/{listing}",
            params={"cursor": _cursor(f'[{2**62},"x"]')},
            headers=admin_headers(),
        )
        assert _fields(response) == ["cursor"], listing


_RULE = {"ruleId": "r", "ruleName": "R", "type": "maxAge", "severity": "warning"}
_BASE: dict[str, Any] = {"displayName": "Acme", "apiKeys": []}
BAD_CONFIGS: dict[str, tuple[dict[str, Any], str]] = {
    "display name": ({**_BASE, "displayName": "a\x00b"}, "displayName"),
    "repository": ({**_BASE, "repository": "acme/\x00"}, "repository"),
    "tracked branch": ({**_BASE, "trackedBranches": ["main", "a\x00"]}, "trackedBranches[1]"),
    "parameter value": (
        {**_BASE, "policies": [{**_RULE, "params": {"a": "x\x00"}}]},
        "policies[0].params",
    ),
    "parameter name": (
        {**_BASE, "policies": [{**_RULE, "params": {"a\x00": 1}}]},
        "policies[0].params",
    ),
    "channel url": (
        {**_BASE, "channels": [{"type": "slack", "name": "s", "url": "https://h.example/\x00"}]},
        "channels[0].url",
    ),
    "signing key": (
        {
            **_BASE,
            "channels": [
                {
                    "type": "webhook",
                    "name": "w",
                    "url": "https://h.example/hook",
                    "signingKey": "0123456789abcdef\x00",
                }
            ],
        },
        "channels[0].signingKey",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_nul_in_a_config_string_is_a_422_naming_it_and_nothing_is_stored(
    both: ServiceClient, case: tuple[dict[str, Any], str]
) -> None:
    body, field = case
    response = both.http.put("/admin/v1/integrations/acme", json=body, headers=admin_headers())
    assert _fields(response) == [field]
    status = both.http.get("/admin/v1/integrations/acme/status", headers=admin_headers())
    assert status.status_code == 404


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_policy_parameter_that_is_not_a_finite_number_is_a_422_naming_it(
    both: ServiceClient, number: str
) -> None:
    body = json.dumps({**_BASE, "policies": [{**_RULE, "params": {"maxAgeDays": 0}}]}).replace(
        '"maxAgeDays": 0', f'"maxAgeDays": {number}'
    )
    response = both.http.put(
        "/admin/v1/integrations/acme",
        content=body,
        headers={**admin_headers(), "Content-Type": "application/json"},
    )
    assert _fields(response) == ["policies[0].params"]
    assert "finite" in response.json()["detail"][0]["msg"]
    status = both.http.get("/admin/v1/integrations/acme/status", headers=admin_headers())
    assert status.status_code == 404


def test_a_nul_in_a_report_string_is_the_same_422_on_both_databases(both: ServiceClient) -> None:
    (key,) = both.put_integration("acme")
    report = example("report-cli.json")
    report["policyResults"][0]["message"] = "overdue\x00"
    assert _fields(both.submit(key, report)) == ["policyResults[0].message"]


def test_a_duration_too_long_for_the_calendar_is_a_422_naming_it(both: ServiceClient) -> None:
    # Found by the schemathesis pass: the span overflowed (a 500) before it was compared.
    body = {**_BASE, "expectReportsEvery": "94432583861.4ms8919685205502444s"}
    response = both.http.put("/admin/v1/integrations/acme", json=body, headers=admin_headers())
    assert _fields(response) == ["expectReportsEvery"]
    acknowledged = both.http.post(
        "/api/v1/alerts/some-alert/acknowledge",
        json={"acknowledgeFor": "99999999999999999999999999999h"},
        headers=admin_headers(),
    )
    assert _fields(acknowledged) == ["acknowledgeFor"]


def _with_nul_in_messages(value: Any, under: str | None = None) -> Any:
    """The push with a NUL in every message and record body."""
    if isinstance(value, dict):
        if "key" in value and value["key"] not in ("clef.message", "clef.description"):
            return value
        return {key: _with_nul_in_messages(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_nul_in_messages(item, under) for item in value]
    if isinstance(value, str) and under == "stringValue":
        return f"{value}\x00 and more"
    return value


@pytest.mark.parametrize("push", ["report-push.json", "lint-push.json", "drift-push.json"])
def test_a_nul_in_an_otlp_message_is_dropped_not_a_500_nor_stored(
    both: ServiceClient, push: str
) -> None:
    # OTLP cleans what it keeps instead of refusing (a refusal fails the user's CI job).
    (key,) = both.put_integration("acme")
    body = _with_nul_in_messages(example(f"otlp/{push}"))
    response = both.http.post("/v1/logs", json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    for listing in ("reports", "lint-results", "drift-results"):
        page = both.http.get(f"/api/v1/integrations/acme/{listing}", headers=admin_headers())
        assert page.status_code == 200
        assert "\\u0000" not in page.text
    kept = json.dumps(
        both.read("/api/v1/integrations/acme/lint-results")["items"]
        + both.read("/api/v1/integrations/acme/drift-results")["items"]
        + both.alerts("acme")
    )
    assert " and more" in kept
