"""Today's CLI on the dashboard: lint and drift beside the matrix, a matrix that
says its cells were not sent, and how to point each CLI generation here."""

from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from tests.dashboard.conftest import sign_in
from tests.dashboard.test_pages import text
from tests.support.contract import example
from tests.support.service import ServiceClient, key_headers

NOW_NS = time.time_ns()


def push(http: TestClient, key: str, name: str) -> None:
    body = example(f"otlp/{name}.json")
    for resource in body["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                record["timeUnixNano"] = str(NOW_NS)
    response = http.post(
        "/v1/logs",
        content=json.dumps(body),
        headers={**key_headers(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_a_new_integration_says_how_to_point_both_cli_generations_here(http: TestClient) -> None:
    ServiceClient(http).put_integration("billing")
    sign_in(http)
    page = text(http.get("/integrations/billing"))
    assert "CLEF_TELEMETRY_URL=http://127.0.0.1:8000/v1/logs" in page
    assert "CLEF_TELEMETRY_HEADERS=Authorization=Bearer <API key>" in page
    assert "never reads CLEF_TELEMETRY_TOKEN" in page
    assert "cloud.integrationId: billing" in page
    assert "CLEF_API_URL=http://127.0.0.1:8000" in page


def test_lint_and_drift_are_shown_beside_the_matrix_without_keys_or_files(
    http: TestClient,
) -> None:
    (key,) = ServiceClient(http).put_integration("billing")
    for name in ("report-push", "lint-push", "drift-push"):
        push(http, key, name)
    sign_in(http)
    response = http.get("/integrations/billing")
    page = text(response)
    assert "sends no matrix cells" in page
    assert "1 files" not in page
    assert "9 files, 1 errors, 1 warnings, 0 info, 1 pending keys" in page
    assert "Missing required key [redacted]" in page
    assert "3 namespaces compared, 2 clean, 1 keys drift" in page
    assert "ledger 1 production dev, staging" in page
    for forbidden in (
        "LEDGER_DSN",
        "STRIPE_WEBHOOK_SECRET",
        ".enc.yaml",
        "/home/runner",
        "age1x9v3",
    ):
        assert forbidden not in response.text
    assert "Point the Clef CLI of a CI job here" in page
