"""The config API the operator calls: upsert, key sets, delete with and without purge."""

from __future__ import annotations

import pytest

from clef_pro.domain import apikeys
from tests.support.contract import example
from tests.support.service import ServiceClient, admin_headers, key_headers


def test_put_is_idempotent_201_then_200(service: ServiceClient) -> None:
    body = {"displayName": "Payments", "trackedBranches": ["main"]}
    first = service.http.put("/admin/v1/integrations/payments", json=body, headers=admin_headers())
    again = service.http.put("/admin/v1/integrations/payments", json=body, headers=admin_headers())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {"integrationId": "payments", "created": False}


def test_replacing_the_key_set_revokes_removed_keys_at_once(service: ServiceClient) -> None:
    old, kept = service.put_integration("payments", keys=2)
    new = apikeys.generate_api_key()
    service.http.put(
        "/admin/v1/integrations/payments",
        json={
            "displayName": "Payments",
            "apiKeys": [
                {"name": "kept", "sha256": apikeys.sha256_hex(kept)},
                {"name": "new", "sha256": apikeys.sha256_hex(new)},
            ],
        },
        headers=admin_headers(),
    ).raise_for_status()
    assert service.submit(old, example("report-spec.json")).status_code == 401
    assert service.submit(kept, example("report-spec.json")).status_code == 200
    assert service.submit(new, example("report-cli.json")).status_code == 200


def test_a_key_hash_of_another_integration_is_a_conflict(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    response = service.http.put(
        "/admin/v1/integrations/billing",
        json={"displayName": "B", "apiKeys": [{"name": "k", "sha256": apikeys.sha256_hex(key)}]},
        headers=admin_headers(),
    )
    assert response.status_code == 409
    assert service.submit(key, example("report-spec.json")).status_code == 200


def test_delete_revokes_keys_and_keeps_history_by_default(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(key, example("report-spec.json"))
    response = service.http.delete("/admin/v1/integrations/payments", headers=admin_headers())
    assert response.status_code == 204
    assert service.submit(key, example("report-spec.json")).status_code == 401
    assert service.read("/api/v1/integrations")["items"] == []
    # Recreating the integration brings its history back.
    (again,) = service.put_integration("payments")
    history = service.read("/api/v1/integrations/payments/reports")["items"]
    assert len(history) == 1
    assert service.submit(again, example("report-cli.json")).status_code == 200


def test_delete_with_purge_removes_history(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(key, example("report-spec.json"))
    service.http.delete(
        "/admin/v1/integrations/payments", params={"purge": "true"}, headers=admin_headers()
    ).raise_for_status()
    service.put_integration("payments")
    assert service.read("/api/v1/integrations/payments/reports")["items"] == []
    assert service.alerts("payments") == []


def test_deleting_an_unknown_integration_is_404(service: ServiceClient) -> None:
    response = service.http.delete("/admin/v1/integrations/nope", headers=admin_headers())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"displayName": ""}, "displayName"),
        ({"displayName": "x", "apiKeys": [{"name": "k", "sha256": "nothex"}]}, "apiKeys[0].sha256"),
        (
            {
                "displayName": "x",
                "channels": [{"name": "c", "type": "email", "to": ["not-an-email"]}],
            },
            "channels[0].to[0]",
        ),
        (
            {
                "displayName": "x",
                "policies": [
                    {"ruleId": "r", "ruleName": "R", "type": "missingKeys", "severity": "error"}
                ],
            },
            "policies[0].severity",
        ),
        # An unknown field is named by where it was, never by its name.
        ({"displayName": "x", "extra": 1}, "body"),
    ],
)
def test_bad_config_is_refused_naming_the_field(
    service: ServiceClient, body: dict[str, object], field: str
) -> None:
    response = service.http.put("/admin/v1/integrations/x", json=body, headers=admin_headers())
    assert response.status_code == 422
    assert field in [entry["field"] for entry in response.json()["detail"]]


def test_the_config_api_needs_the_admin_token(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    body = {"displayName": "x"}
    assert service.http.put("/admin/v1/integrations/x", json=body).status_code == 401
    assert (
        service.http.put(
            "/admin/v1/integrations/x", json=body, headers=key_headers(key)
        ).status_code
        == 403
    )
