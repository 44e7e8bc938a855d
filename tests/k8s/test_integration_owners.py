"""An integration id chosen in one namespace cannot be taken over from
another: on the real kube-apiserver, with one operator watching two
namespaces and the real service behind it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.k8s.conftest import OPERATOR_ACCOUNT, OPERATOR_NAMESPACE
from tests.k8s.test_operator import Stack, report, service_account_token
from tests.support.envtest import ControlPlane
from tests.support.operator import start_operator
from tests.support.server import ServerProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.k8s, pytest.mark.postgres, pytest.mark.server]


@pytest.fixture
def two_namespaces(
    control_plane: ControlPlane,
    clef_crds: ControlPlane,
    operator_account: str,
    k8s_namespace: str,
    start_service: Callable[..., ServerProcess],
    tmp_path: Path,
) -> Iterator[tuple[Stack, Stack]]:
    """The tenant's namespace and another one, one operator watching both."""
    other = f"intruder-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", other)
    service = start_service(
        CLEF_PRO_KUBERNETES_AUTH="true",
        CLEF_PRO_KUBECONFIG=str(control_plane.kubeconfig),
        CLEF_PRO_OPERATOR_SERVICE_ACCOUNT=operator_account,
        CLEF_PRO_TOKEN_REVIEW_CACHE_SECONDS="1",
    )
    token_file = tmp_path / "operator-token"
    token_file.write_text(
        service_account_token(control_plane, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)
    )
    env = {
        "KUBECONFIG": str(control_plane.kubeconfig),
        "CLEF_PRO_OPERATOR_SERVICE_URL": service.url,
        "CLEF_PRO_OPERATOR_SERVICE_TOKEN_FILE": str(token_file),
        "CLEF_PRO_OPERATOR_STATUS_INTERVAL_SECONDS": "1",
        "CLEF_PRO_OPERATOR_HEARTBEAT_INTERVAL_SECONDS": "1",
    }
    operator = start_operator(env, tmp_path / "operator.log", k8s_namespace, other)
    tenant = Stack(control_plane, k8s_namespace, service, operator, env, tmp_path)
    intruder = Stack(control_plane, other, service, operator, env, tmp_path)
    try:
        yield tenant, intruder
    finally:
        operator.stop()
        control_plane.kubectl("delete", "namespace", other, "--wait=false", check=False)


def integration(name: str, integration_id: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "pro.clef.sh/v1alpha1",
            "kind": "Integration",
            "metadata": {"name": name},
            "spec": {
                "displayName": name.title(),
                "integrationId": integration_id,
                "apiKeys": [{"name": "ci"}],
            },
        }
    )


def condition(stack: Stack, name: str, kind: str) -> dict[str, Any] | None:
    conditions = stack.get("integration", name).get("status", {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == kind), None)


def events(stack: Stack, name: str) -> list[dict[str, Any]]:
    listed = stack.plane.kubectl_json(
        "-n", stack.namespace, "get", "events", "--field-selector", f"involvedObject.name={name}"
    )
    items: list[dict[str, Any]] = listed["items"]
    return items


def test_an_integration_id_cannot_be_taken_over_from_another_namespace(
    two_namespaces: tuple[Stack, Stack],
) -> None:
    tenant, intruder = two_namespaces
    shared = f"payments-{uuid.uuid4().hex[:8]}"
    tenant.kubectl("apply", "-f", "-", input=integration("payments", shared))
    wait_for(lambda: tenant.ready("payments"), what="the tenant's Integration Ready")
    tenant_key = wait_for(lambda: tenant.secret_keys("payments-clef-pro").get("ci"), what="key")
    assert tenant.submit(tenant_key, report("t1", 1)) == 200

    intruder.kubectl("apply", "-f", "-", input=integration("payments", shared))
    conflict = wait_for(
        lambda: (c := condition(intruder, "payments", "Conflict")) and c["status"] == "True" and c,
        timeout=60,
        what="a Conflict condition on the intruding Integration",
    )
    assert conflict["reason"] == "IntegrationIdTaken"
    assert "choose another spec.integrationId" in conflict["message"]
    ready = condition(intruder, "payments", "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "Conflict")
    event = wait_for(
        lambda: next((e for e in events(intruder, "payments") if e["reason"] == "Conflict"), None),
        what="a Conflict event",
    )
    assert event["type"] == "Warning"
    # Nothing of the tenant's integration is shown to the intruder.
    status = intruder.get("integration", "payments")["status"]
    assert "lastCommit" not in status
    assert "connection" not in status
    assert "openAlerts" not in status

    # The tenant's key still works; the intruder's never did.
    intruder_key = wait_for(
        lambda: intruder.secret_keys("payments-clef-pro").get("ci"), what="intruder key"
    )
    assert tenant.submit(tenant_key, report("t2", 2)) == 200
    assert intruder.submit(intruder_key, report("i1", 3)) == 401
    checkpoint = tenant.checkpoint(shared, tenant_key).json()
    assert checkpoint["lastCommitSha"] is not None

    # Deleting the intruding Integration revokes nothing of the tenant's.
    intruder.kubectl("delete", "integration", "payments", "--wait=true", "--timeout=60s")
    assert tenant.submit(tenant_key, report("t3", 4)) == 200
    assert tenant.ready("payments") is not None

    # The owner's own deletion does revoke.
    tenant.kubectl("delete", "integration", "payments", "--wait=true", "--timeout=60s")
    assert tenant.submit(tenant_key, report("t4", 5)) == 401


def test_the_conflict_clears_once_the_id_is_free(two_namespaces: tuple[Stack, Stack]) -> None:
    tenant, intruder = two_namespaces
    shared = f"billing-{uuid.uuid4().hex[:8]}"
    tenant.kubectl("apply", "-f", "-", input=integration("billing", shared))
    wait_for(lambda: tenant.ready("billing"), what="the tenant's Integration Ready")
    intruder.kubectl("apply", "-f", "-", input=integration("billing", shared))
    wait_for(
        lambda: (c := condition(intruder, "billing", "Conflict")) and c["status"] == "True",
        timeout=60,
        what="Conflict",
    )
    # The owner's history is purged by an administrator: the id is free again.
    tenant.kubectl("delete", "integration", "billing", "--wait=true", "--timeout=60s")
    token = service_account_token(tenant.plane, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)
    purged = httpx.delete(
        f"{tenant.service.url}/admin/v1/integrations/{shared}",
        params={"purge": "true"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert purged.status_code == 204, purged.text
    cleared = wait_for(
        lambda: (c := condition(intruder, "billing", "Conflict")) and c["status"] == "False" and c,
        timeout=60,
        what="the Conflict condition to clear at the next periodic sync",
    )
    assert cleared["reason"] == "IntegrationIdOwned"
    wait_for(lambda: intruder.ready("billing"), what="the other Integration Ready")
