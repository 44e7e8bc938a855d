"""An integration id belongs to the Integration resource that first configured
it (namespace, name, uid), or to whoever made it by hand: no other source can
take it over through the config API, and a deletion naming a source removes
only what that source owns."""

from __future__ import annotations

from typing import Any

from clef_pro.domain import apikeys
from tests.support.contract import example
from tests.support.service import ServiceClient, admin_headers

TEAM_A = {"namespace": "team-a", "name": "payments", "uid": "0b7c9e2a-1111-4c3b-9d7e-aaaaaaaaaaaa"}
TEAM_B = {"namespace": "team-b", "name": "payments", "uid": "5f1d7c3e-2222-4a9b-8c6d-bbbbbbbbbbbb"}


def put(service: ServiceClient, source: dict[str, str] | None, **config: Any) -> Any:
    key = apikeys.generate_api_key()
    body: dict[str, Any] = {
        "displayName": "Payments",
        "apiKeys": [{"name": "ci", "sha256": apikeys.sha256_hex(key)}],
        "channels": [{"name": "team", "type": "email", "to": ["team@acme.com"]}],
        **config,
    }
    if source is not None:
        body["source"] = source
    response = service.http.put(
        "/admin/v1/integrations/shared-id", json=body, headers=admin_headers()
    )
    return response, key


def delete(service: ServiceClient, source: dict[str, str] | None = None) -> Any:
    return service.http.delete(
        "/admin/v1/integrations/shared-id", params=source or {}, headers=admin_headers()
    )


def submits(service: ServiceClient, key: str) -> int:
    status: int = service.submit(key, example("report-spec.json")).status_code
    return status


def test_another_namespace_cannot_take_over_an_integration_id(service: ServiceClient) -> None:
    created, owner_key = put(service, TEAM_A)
    assert created.status_code == 201
    taken, intruder_key = put(service, TEAM_B, channels=[])
    assert taken.status_code == 409
    assert "choose another spec.integrationId" in taken.json()["detail"]
    # Nothing of the intruder's config was stored: the owner's keys and channels stand.
    assert submits(service, owner_key) == 200
    assert submits(service, intruder_key) == 401
    status = service.read("/admin/v1/integrations/shared-id/status")
    assert status["integrationId"] == "shared-id"


def test_a_resource_recreated_under_the_same_name_waits_for_the_old_one(
    service: ServiceClient,
) -> None:
    put(service, TEAM_A)
    recreated = {**TEAM_A, "uid": "9a9a9a9a-3333-4e4e-8f8f-cccccccccccc"}
    assert put(service, recreated)[0].status_code == 409
    assert delete(service, TEAM_A).status_code == 204
    claimed, key = put(service, recreated)
    assert claimed.status_code == 200
    assert submits(service, key) == 200


def test_the_owner_keeps_updating_its_integration(service: ServiceClient) -> None:
    put(service, TEAM_A)
    again, key = put(service, TEAM_A)
    assert again.status_code == 200
    assert submits(service, key) == 200


def test_a_deletion_from_another_source_revokes_nothing(service: ServiceClient) -> None:
    _, key = put(service, TEAM_A)
    refused = delete(service, TEAM_B)
    assert refused.status_code == 409
    assert "nothing of it was revoked" in refused.json()["detail"]
    assert (
        delete(service, {**TEAM_A, "uid": "9a9a9a9a-3333-4e4e-8f8f-cccccccccccc"}).status_code
        == 409
    )
    assert submits(service, key) == 200
    assert delete(service, TEAM_A).status_code == 204
    assert submits(service, key) == 401


def test_a_deleted_integrations_id_stays_its_owners_while_its_history_is_kept(
    service: ServiceClient,
) -> None:
    _, key = put(service, TEAM_A)
    assert submits(service, key) == 200
    assert delete(service, TEAM_A).status_code == 204
    assert put(service, TEAM_B)[0].status_code == 409
    assert put(service, None)[0].status_code == 409
    assert (
        service.http.delete(
            "/admin/v1/integrations/shared-id", params={"purge": "true"}, headers=admin_headers()
        ).status_code
        == 204
    )
    assert put(service, TEAM_B)[0].status_code == 201


def test_an_integration_made_by_hand_cannot_be_taken_by_a_resource(service: ServiceClient) -> None:
    made, key = put(service, None)
    assert made.status_code == 201
    taken = put(service, TEAM_A)[0]
    assert taken.status_code == 409
    assert "configured by hand" in taken.json()["detail"]
    assert submits(service, key) == 200
    # The hand-made integration stays manageable without a source.
    assert put(service, None)[0].status_code == 200


def test_an_owned_integration_is_not_replaced_without_its_source(service: ServiceClient) -> None:
    _, key = put(service, TEAM_A)
    refused = put(service, None)[0]
    assert refused.status_code == 409
    assert "team-a" in refused.json()["detail"]
    assert submits(service, key) == 200


def test_an_id_recorded_before_uids_were_kept_is_claimed_by_its_resource(
    service: ServiceClient,
) -> None:
    without_uid = {"namespace": "team-a", "name": "payments"}
    assert put(service, without_uid)[0].status_code == 201
    assert put(service, TEAM_A)[0].status_code == 200
    assert (
        put(service, {**TEAM_A, "uid": "9a9a9a9a-3333-4e4e-8f8f-cccccccccccc"})[0].status_code
        == 409
    )


def test_a_malformed_deleting_source_is_a_422_naming_the_field(service: ServiceClient) -> None:
    put(service, TEAM_A)
    response = delete(service, {"namespace": "Team_A", "name": "payments"})
    assert response.status_code == 422
    assert "namespace" in response.text
