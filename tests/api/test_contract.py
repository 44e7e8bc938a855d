"""The CLI contract over HTTP, on a real Postgres: auth, both forms, refusals, limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from tests.support.contract import example, forbidden_examples, sha, spec_report
from tests.support.service import ServiceClient, admin_headers, key_headers


def stored_reports(settings: Settings) -> int:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(models.Report))
    engine.dispose()
    return int(count or 0)


@pytest.mark.parametrize("name", ["report-cli.json", "report-spec.json"])
def test_each_example_report_is_accepted_and_echoes_its_commit(
    service: ServiceClient, name: str
) -> None:
    (key,) = service.put_integration("payments")
    body = example(name)
    accepted = service.submit_ok(key, body)
    assert accepted["commitSha"] == body["commitSha"]
    assert accepted["id"]


def test_the_example_batch_is_accepted_in_order(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    response = service.batch(key, example("batch.json")["reports"])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert len(set(response.json()["reportIds"])) == 3


@pytest.mark.parametrize("path", forbidden_examples(), ids=lambda p: p.name)
def test_forbidden_examples_are_refused_without_echo_and_nothing_is_stored(
    service: ServiceClient, settings: Settings, path: Path
) -> None:
    (key,) = service.put_integration("payments")
    raw = path.read_text()
    response = service.http.post(
        "/api/v1/reports",
        content=raw,
        headers={**key_headers(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert all(entry["field"] for entry in detail)
    assert all(set(entry) == {"loc", "field", "msg", "type"} for entry in detail)
    original = json.loads(raw)
    for value in _strings(original):
        if len(value) > 20 and value not in json.dumps(example("report-spec.json")):
            assert value not in response.text, "a refused value was echoed"
    assert stored_reports(settings) == 0


def _strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)] + [
            key for key in node if isinstance(key, str)
        ]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def test_unknown_field_error_names_where_it_was_not_the_field(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    response = service.submit(key, example("report-cli.json") | {"filePath": "x"})
    assert response.status_code == 422
    assert [entry["field"] for entry in response.json()["detail"]] == ["body"]
    assert "filePath" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-key", "Bearer clefpro_" + "a" * 38],
)
def test_missing_malformed_or_unknown_keys_are_401(
    service: ServiceClient, authorization: str | None
) -> None:
    service.put_integration("payments")
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in [
        ("POST", "/api/v1/reports"),
        ("POST", "/api/v1/reports/batch"),
        ("GET", "/api/v1/integrations/payments"),
    ]:
        response = service.http.request(method, path, json={}, headers=headers)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_key_on_another_integrations_url_is_404(service: ServiceClient) -> None:
    (payments_key,) = service.put_integration("payments")
    service.put_integration("billing")
    for integration in ("billing", "does-not-exist"):
        response = service.http.get(
            f"/api/v1/integrations/{integration}", headers=key_headers(payments_key)
        )
        assert response.status_code == 404


def test_checkpoint_reports_last_commit_and_config(service: ServiceClient) -> None:
    (key,) = service.put_integration(
        "payments",
        collection={"ciContext": True},
        policies=[
            {
                "ruleId": "rotation_max_age",
                "ruleName": "Key rotation max age",
                "type": "rotationMaxAge",
                "severity": "warning",
                "params": {"maxAgeDays": 90},
            }
        ],
    )
    first = service.http.get("/api/v1/integrations/payments", headers=key_headers(key)).json()
    assert first == {
        "lastCommitSha": None,
        "config": {
            "collectCIContext": True,
            "policies": [
                {
                    "ruleId": "rotation_max_age",
                    "ruleName": "Key rotation max age",
                    "type": "rotationMaxAge",
                    "severity": "warning",
                    "maxAgeDays": 90,
                }
            ],
        },
    }
    service.batch(key, example("batch.json")["reports"])
    # Newest by commit timestamp, whatever the order of arrival.
    service.submit_ok(key, spec_report(sha("older"), timestamp=1))
    checkpoint = service.http.get("/api/v1/integrations/payments", headers=key_headers(key))
    assert checkpoint.json()["lastCommitSha"] == "3" * 40


def test_ci_context_is_not_stored_unless_the_integration_collects_it(
    service: ServiceClient,
) -> None:
    (quiet,) = service.put_integration("quiet")
    (chatty,) = service.put_integration("chatty", collection={"ciContext": True})
    for key in (quiet, chatty):
        service.submit_ok(key, example("report-spec.json"))
    assert service.read("/api/v1/integrations/quiet/matrix")["ciContext"] is None
    assert (
        service.read("/api/v1/integrations/chatty/matrix")["ciContext"]["provider"] == "gitlab-ci"
    )


def test_bodies_over_the_limit_are_413_and_store_nothing(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    big = example("report-spec.json")
    big["summary"]["cells"] = big["summary"]["cells"] * (
        2 * settings.max_report_bytes // len(json.dumps(big["summary"]["cells"])) + 1
    )
    response = service.submit(key, big)
    assert response.status_code == 413

    def chunks() -> object:
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    streamed = service.http.post(
        "/api/v1/reports",
        content=chunks(),
        headers={**key_headers(key), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert stored_reports(settings) == 0


def test_a_batch_of_10000_reports_is_stored_whole(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    reports = [spec_report(f"{index:040x}", timestamp=index) for index in range(1, 10_001)]
    response = service.batch(key, reports)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 10_000
    assert len(set(response.json()["reportIds"])) == 10_000
    assert stored_reports(settings) == 10_000
    checkpoint = service.http.get("/api/v1/integrations/payments", headers=key_headers(key))
    assert checkpoint.json()["lastCommitSha"] == f"{10_000:040x}"
    # A replay of the whole gap is safe and answers the same ids.
    assert service.batch(key, reports).json() == response.json()


def test_a_10000_report_batch_with_one_bad_report_stores_nothing(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    reports = [spec_report(f"{index:040x}", timestamp=index) for index in range(1, 10_001)]
    reports[9_998]["branch"] = "has space"
    response = service.batch(key, reports)
    assert response.status_code == 422
    assert [entry["field"] for entry in response.json()["detail"]] == ["reports[9998].branch"]
    assert stored_reports(settings) == 0


def test_one_bad_report_in_a_batch_stores_nothing(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    reports = example("batch.json")["reports"]
    reports[1]["policyResults"][0]["message"] = "see /etc/clef/secrets"
    response = service.batch(key, reports)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "reports[1].policyResults[0].message"
    assert stored_reports(settings) == 0
    assert service.alerts("payments") == []


def test_replaying_a_report_returns_the_same_id_and_changes_nothing(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    body = example("report-spec.json")
    first = service.submit_ok(key, body)
    alerts_before = service.alerts("payments")
    assert service.submit_ok(key, body) == first
    assert service.alerts("payments") == alerts_before
    assert stored_reports(settings) == 1


def test_replaying_a_batch_is_safe(service: ServiceClient, settings: Settings) -> None:
    (key,) = service.put_integration("payments")
    reports = example("batch.json")["reports"]
    first = service.batch(key, reports).json()
    alerts_before = service.alerts("payments")
    assert service.batch(key, reports).json() == first
    assert service.alerts("payments") == alerts_before
    assert stored_reports(settings) == 3


def test_a_ci_key_cannot_use_the_read_or_config_apis(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(key, example("report-spec.json"))
    alert_id = service.alerts("payments")[0]["id"]
    for method, path in [
        ("GET", "/api/v1/integrations"),
        ("GET", "/api/v1/integrations/payments/alerts"),
        ("GET", "/api/v1/integrations/payments/matrix"),
        ("GET", "/api/v1/integrations/payments/reports"),
        ("POST", f"/api/v1/alerts/{alert_id}/acknowledge"),
        ("PUT", "/admin/v1/integrations/payments"),
        ("DELETE", "/admin/v1/integrations/payments"),
    ]:
        response = service.http.request(method, path, headers=key_headers(key), json={})
        assert response.status_code == 403, (method, path)


def test_the_admin_token_cannot_submit_reports(service: ServiceClient) -> None:
    service.put_integration("payments")
    response = service.http.post(
        "/api/v1/reports", json=example("report-spec.json"), headers=admin_headers()
    )
    assert response.status_code == 403
