"""The report API as the real client sends it: x-api-key, detached HEADs, ``ci``,
tracked-only checkpoints, forged timestamps, media types and JSON syntax errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clef_pro.domain import apikeys
from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.contract import example, failing, sha, spec_report
from tests.support.service import ADMIN_TOKEN, ServiceClient, admin_headers, key_headers

NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000


def checkpoint(service: ServiceClient, key: str, integration: str = "payments") -> object:
    response = service.http.get(f"/api/v1/integrations/{integration}", headers=key_headers(key))
    assert response.status_code == 200, response.text
    return response.json()["lastCommitSha"]


def test_x_api_key_is_accepted_on_every_ci_endpoint(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    headers = {"x-api-key": key}
    single = service.http.post("/api/v1/reports", json=example("report-cli.json"), headers=headers)
    assert single.status_code == 200, single.text
    batch = service.http.post("/api/v1/reports/batch", json=example("batch.json"), headers=headers)
    assert batch.status_code == 200, batch.text
    read = service.http.get("/api/v1/integrations/payments", headers=headers)
    assert read.status_code == 200
    assert read.json()["lastCommitSha"] == example("report-cli.json")["commitSha"]


def test_two_different_credentials_are_401(service: ServiceClient) -> None:
    (key, other) = service.put_integration("payments", keys=2)
    response = service.http.post(
        "/api/v1/reports",
        json=example("report-cli.json"),
        headers={**key_headers(key), "x-api-key": other},
    )
    assert response.status_code == 401
    same = service.http.post(
        "/api/v1/reports",
        json=example("report-cli.json"),
        headers={**key_headers(key), "x-api-key": key},
    )
    assert same.status_code == 200


def test_an_unknown_x_api_key_is_401(service: ServiceClient) -> None:
    service.put_integration("payments")
    response = service.http.post(
        "/api/v1/reports",
        json=example("report-cli.json"),
        headers={"x-api-key": apikeys.generate_api_key()},
    )
    assert response.status_code == 401


def test_a_report_from_a_detached_head_is_accepted_and_drives_alerts(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("payments", trackedBranches=["main"])
    body = spec_report(sha("detached"), timestamp=NOW_MS, branch="")
    service.submit_ok(key, body)
    assert checkpoint(service, key) == sha("detached")
    matrix = service.read("/api/v1/integrations/payments/matrix")
    assert matrix["commit"]["branch"] == ""
    assert {alert["ruleId"] for alert in service.alerts("payments")} == {
        "missing_keys",
        "rotation_max_age",
    }


def test_the_detached_backfill_batch_takes_its_heads_branch(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments", trackedBranches=["main"])
    response = service.batch(key, example("batch-backfill-detached.json")["reports"])
    assert response.status_code == 200, response.text
    assert checkpoint(service, key) == "3" * 40
    history = service.read("/api/v1/integrations/payments/reports")["items"]
    assert [item["branch"] for item in history] == ["main", "main", "main"]
    # The HEAD of the batch resolved missing_keys; rotation_max_age stays open.
    open_alerts = {alert["ruleId"] for alert in service.alerts("payments", "open")}
    assert open_alerts == {"rotation_max_age"}


def test_ci_is_stored_as_ci_context(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments", collection={"ciContext": True})
    body = example("report-spec.json")
    body["ci"] = body.pop("ciContext")
    service.submit_ok(key, body)
    assert service.read("/api/v1/integrations/payments/matrix")["ciContext"] == body["ci"]


def test_ci_and_ci_context_at_once_are_422(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    body = example("report-spec.json")
    body["ci"] = body["ciContext"]
    response = service.submit(key, body)
    assert response.status_code == 422
    assert "send one of them" in response.text


def test_the_checkpoint_never_names_an_untracked_branch(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments", trackedBranches=["main"])
    service.submit_ok(key, spec_report(sha("main"), timestamp=NOW_MS - 2 * HOUR_MS))
    service.submit_ok(key, spec_report(sha("feature"), timestamp=NOW_MS, branch="feature/x"))
    assert checkpoint(service, key) == sha("main")
    status = service.read("/admin/v1/integrations/payments/status")
    assert status["lastCommitSha"] == sha("main")


def test_a_commit_timestamp_far_in_the_future_is_422_and_changes_nothing(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(key, spec_report(sha("now"), timestamp=NOW_MS))
    forged = spec_report(sha("forged"), timestamp=NOW_MS + 25 * HOUR_MS, policy_results=[])
    response = service.submit(key, forged)
    assert response.status_code == 422
    assert [entry["field"] for entry in response.json()["detail"]] == ["commitTimestamp"]
    batch = service.batch(key, [spec_report(sha("ok"), timestamp=NOW_MS), forged])
    assert batch.status_code == 422
    assert batch.json()["detail"][0]["field"] == "reports[1].commitTimestamp"
    assert checkpoint(service, key) == sha("now")
    assert len(service.alerts("payments", "open")) == 2
    # Within the allowance (a CI clock a little ahead) is fine.
    service.submit_ok(key, spec_report(sha("ahead"), timestamp=NOW_MS + 23 * HOUR_MS))


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/reports/batch"])
def test_a_body_that_is_not_json_says_where_it_breaks(service: ServiceClient, path: str) -> None:
    (key,) = service.put_integration("payments")
    response = service.http.post(
        path,
        content=b'{\n  "commitSha": "abc",\n  oops\n}',
        headers={**key_headers(key), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["field"] == "body"
    assert entry["msg"] == "body is not valid JSON at line 3 column 3"


def test_the_config_api_says_where_json_breaks(service: ServiceClient) -> None:
    response = service.http.put(
        "/admin/v1/integrations/payments",
        content=b'{"displayName": "x",\n "apiKeys": [}',
        headers={**admin_headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    (entry,) = response.json()["detail"]
    assert entry["field"] == "body"
    assert entry["msg"].startswith("body is not valid JSON at line 2 column")


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/reports/batch"])
@pytest.mark.parametrize("media_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_415(
    service: ServiceClient, path: str, media_type: str
) -> None:
    (key,) = service.put_integration("payments")
    response = service.http.post(
        path,
        content=b"{}",
        headers={**key_headers(key), "Content-Type": media_type},
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_the_config_api_takes_json_only(service: ServiceClient) -> None:
    response = service.http.put(
        "/admin/v1/integrations/payments",
        content=b"displayName=x",
        headers={**admin_headers(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415


def test_a_json_body_with_charset_is_accepted(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    response = service.http.post(
        "/api/v1/reports",
        content=Path("tests/fixtures/contract/report-cli.json").read_bytes(),
        headers={**key_headers(key), "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200, response.text


def test_an_unreachable_database_is_503_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/nothing?connect_timeout=2",
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path,
        auto_migrate=False,
        notify_sender=False,
    )
    with TestClient(create_app(settings)) as http:
        response = http.post(
            "/api/v1/reports",
            json=example("report-cli.json"),
            headers=key_headers(apikeys.generate_api_key()),
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_a_failing_policy_from_a_detached_head_opens_one_alert_per_scope(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("payments")
    results = [failing("missing_keys", {"namespace": "oauth", "environment": "production"})]
    service.submit_ok(
        key, spec_report(sha("a"), timestamp=NOW_MS, branch="", policy_results=results)
    )
    service.submit_ok(key, spec_report(sha("b"), timestamp=NOW_MS + 1, policy_results=results))
    assert [alert["scope"] for alert in service.alerts("payments")] == ["oauth/production"]
