"""The operator against the real kube-apiserver, the real service and a real Postgres.

Each test gets its own namespace, its own database, a real ``clef-pro serve``
that authenticates the operator with a TokenReview, and a real ``clef-pro
operator`` process watching that namespace.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.k8s.conftest import OPERATOR_ACCOUNT, OPERATOR_NAMESPACE
from tests.support.contract import failing, sha, spec_report
from tests.support.envtest import ControlPlane
from tests.support.operator import OperatorProcess, start_operator
from tests.support.server import ServerProcess
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.k8s, pytest.mark.postgres, pytest.mark.server]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
AUDIENCE = "clef-pro"


def service_account_token(
    control_plane: ControlPlane, namespace: str, name: str, audience: str = AUDIENCE
) -> str:
    return control_plane.kubectl(
        "create", "token", name, "-n", namespace, "--audience", audience, "--duration", "1h"
    ).stdout.strip()


@dataclass
class Stack:
    plane: ControlPlane
    namespace: str
    service: ServerProcess
    operator: OperatorProcess
    operator_env: dict[str, str]
    tmp: Path

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> Any:
        return self.plane.kubectl("-n", self.namespace, *args, input=input, check=check)

    def get(self, kind: str, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.plane.kubectl_json("-n", self.namespace, "get", kind, name)
        return result

    def ready(self, name: str) -> dict[str, Any] | None:
        body = self.get("integration", name)
        for condition in body.get("status", {}).get("conditions", []):
            if condition["type"] == "Ready" and condition["status"] == "True":
                return body
        return None

    def secret_keys(self, name: str) -> dict[str, str]:
        result = self.plane.kubectl(
            "-n", self.namespace, "get", "secret", name, "-o", "json", check=False
        )
        if result.returncode != 0:
            return {}
        data = json.loads(result.stdout).get("data") or {}
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def submit(self, key: str, report: dict[str, Any]) -> int:
        return httpx.post(
            f"{self.service.url}/api/v1/reports",
            json=report,
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        ).status_code

    def checkpoint(self, integration_id: str, key: str) -> httpx.Response:
        return httpx.get(
            f"{self.service.url}/api/v1/integrations/{integration_id}",
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )

    def restart_operator(self) -> None:
        self.operator.stop()
        self.operator = start_operator(self.operator_env, self.tmp / "operator.log", self.namespace)


@pytest.fixture
def stack(
    control_plane: ControlPlane,
    clef_crds: ControlPlane,
    operator_account: str,
    k8s_namespace: str,
    start_service: Callable[..., ServerProcess],
    tmp_path: Path,
) -> Iterator[Stack]:
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
    operator = start_operator(env, tmp_path / "operator.log", k8s_namespace)
    the_stack = Stack(control_plane, k8s_namespace, service, operator, env, tmp_path)
    try:
        yield the_stack
    finally:
        the_stack.operator.stop()


def apply_examples(stack: Stack) -> tuple[str, str]:
    """Apply docs/examples; returns the integration id and its CI key once Ready."""
    stack.kubectl("apply", "-f", str(EXAMPLES))
    body = wait_for(lambda: stack.ready("payments-api"), what="Integration Ready")
    integration_id = body["status"]["integrationId"]
    keys = wait_for(lambda: stack.secret_keys(body["status"]["secretName"]), what="Secret")
    return integration_id, keys["ci"]


def report(label: str, timestamp: int, *results: dict[str, Any]) -> dict[str, Any]:
    return spec_report(sha(label), timestamp=timestamp, policy_results=list(results))


def test_examples_apply_and_their_key_submits_reports(stack: Stack) -> None:
    integration_id, key = apply_examples(stack)
    assert integration_id == f"{stack.namespace}.payments-api"
    assert key.startswith("clefpro_")
    assert stack.submit(key, report("a1", 1)) == 200

    checkpoint = stack.checkpoint(integration_id, key).json()
    assert checkpoint["lastCommitSha"] == sha("a1")
    assert checkpoint["config"]["collectCIContext"] is True
    rules = {rule["ruleId"]: rule for rule in checkpoint["config"]["policies"]}
    assert set(rules) == {"missing_keys", "rotation_max_age", "min_recipients"}
    assert rules["rotation_max_age"]["maxAgeDays"] == 90
    assert rules["min_recipients"]["minRecipients"] == 2

    body = stack.get("integration", "payments-api")
    assert body["status"]["policies"] == 3
    assert body["status"]["notificationChannels"] == 2
    connection = wait_for(
        lambda: stack.get("integration", "payments-api")["status"].get("connection"),
        what="how to point the CLI at it, in the status",
    )
    assert connection == {
        "telemetryUrl": "http://127.0.0.1:8000/v1/logs",
        "telemetryHeaders": "Authorization=Bearer <the 'ci' entry of Secret payments-api-clef-pro>",
        "apiUrl": "http://127.0.0.1:8000",
    }
    owner = stack.get("secret", "payments-api-clef-pro")["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("Integration", body["metadata"]["uid"])


def test_editing_a_policy_changes_what_the_cli_is_told(stack: Stack) -> None:
    integration_id, key = apply_examples(stack)
    stack.kubectl(
        "patch",
        "policy",
        "baseline",
        "--type=json",
        "-p",
        json.dumps(
            [{"op": "replace", "path": "/spec/rules/1/rotationMaxAge/maxAgeDays", "value": 30}]
        ),
    )

    def max_age() -> bool:
        rules = stack.checkpoint(integration_id, key).json()["config"]["policies"]
        return any(rule.get("maxAgeDays") == 30 for rule in rules)

    wait_for(max_age, what="the new maxAgeDays in the checkpoint")

    stack.kubectl("label", "policy", "baseline", "clef.sh/policy-set-", "--overwrite")
    wait_for(
        lambda: stack.checkpoint(integration_id, key).json()["config"]["policies"] == [],
        what="policies gone after the label no longer matches",
    )
    condition = stack.get("integration", "payments-api")["status"]["conditions"][0]
    assert (condition["status"], condition["reason"]) == ("False", "PolicySelectorMatchesNothing")


def test_rotation_keeps_the_old_key_through_the_grace_period_only(stack: Stack) -> None:
    _, old_key = apply_examples(stack)
    stack.kubectl(
        "patch",
        "integration",
        "payments-api",
        "--type=merge",
        "-p",
        json.dumps(
            {
                "spec": {
                    "keyRotation": {"gracePeriod": "6s"},
                    "apiKeys": [{"name": "ci", "rotate": "now"}],
                }
            }
        ),
    )

    def rotated() -> str | None:
        key = stack.secret_keys("payments-api-clef-pro").get("ci")
        return key if key != old_key else None

    new_key = wait_for(rotated, what="a rotated key")
    wait_for(lambda: stack.submit(new_key, report("n1", 1)) == 200, what="the new key to work")
    assert stack.submit(old_key, report("o1", 2)) == 200, "the old key must work during the grace"
    wait_for(
        lambda: stack.submit(old_key, report("o2", 3)) == 401, timeout=30, what="old key revoked"
    )
    assert stack.submit(new_key, report("n2", 4)) == 200


def test_deleting_the_integration_revokes_its_key_and_removes_its_secret(stack: Stack) -> None:
    _, key = apply_examples(stack)
    stack.kubectl("delete", "integration", "payments-api", "--wait=true", "--timeout=60s")
    assert stack.submit(key, report("d1", 1)) == 401
    assert stack.secret_keys("payments-api-clef-pro") == {}


def test_an_integration_deleted_while_the_operator_is_down_is_revoked_on_its_return(
    stack: Stack,
) -> None:
    _, key = apply_examples(stack)
    stack.operator.stop()
    stack.kubectl("delete", "integration", "payments-api", "--wait=false")
    assert stack.submit(key, report("x1", 1)) == 200, "nothing acts while the operator is down"
    stack.restart_operator()
    wait_for(lambda: stack.submit(key, report("x2", 2)) == 401, what="revocation after restart")
    wait_for(
        lambda: stack.kubectl("get", "integration", "payments-api", check=False).returncode != 0,
        what="the finalizer to be released",
    )


def test_restarting_the_operator_mints_no_new_keys(stack: Stack) -> None:
    _, key = apply_examples(stack)
    before = stack.get("secret", "payments-api-clef-pro")
    stack.restart_operator()
    time.sleep(3)  # several status intervals: any change would have happened by now
    after = stack.get("secret", "payments-api-clef-pro")
    assert after["data"] == before["data"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert stack.submit(key, report("r1", 1)) == 200


def test_printer_columns_show_real_values_after_a_report(stack: Stack) -> None:
    integration_id, key = apply_examples(stack)
    assert (
        stack.submit(key, report("c0ffee", 5, failing("missing_keys", "oauth/production"))) == 200
    )

    def columns() -> str | None:
        out = stack.kubectl("get", "integrations").stdout
        return out if sha("c0ffee")[:12] in out else None

    table = wait_for(columns, what="the last commit in the printer columns")
    header, row = table.splitlines()[:2]
    assert header.split() == [
        "NAME",
        "READY",
        "INTEGRATION",
        "ID",
        "LAST",
        "COMMIT",
        "OPEN",
        "ALERTS",
        "AGE",
    ]
    assert row.split()[:5] == ["payments-api", "True", integration_id, sha("c0ffee")[:12], "1"]
    wide = stack.plane.kubectl_json("-n", stack.namespace, "get", "clef")
    assert {item["kind"] for item in wide["items"]} == {
        "Integration",
        "Policy",
        "NotificationChannel",
    }


def test_the_config_api_takes_only_the_operators_audience_bound_token(stack: Stack) -> None:
    plane = stack.plane
    url = f"{stack.service.url}/admin/v1/integrations/x"
    body = {"displayName": "X"}

    def put(token: str) -> int:
        return httpx.put(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code

    assert put(service_account_token(plane, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)) in (200, 201)
    wrong_audience = service_account_token(plane, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, "other")
    assert put(wrong_audience) == 401
    plane.kubectl("create", "serviceaccount", "intruder", "-n", stack.namespace)
    assert put(service_account_token(plane, stack.namespace, "intruder")) == 403
    assert put("not-a-token") == 401


def test_liveness_reports_a_recent_heartbeat(stack: Stack) -> None:
    response = httpx.get(stack.operator.liveness_url, timeout=5)
    assert response.status_code == 200
    assert response.json()["heartbeat"] < 30
