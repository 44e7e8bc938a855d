"""The envtest control plane behaves like a real cluster's API server.

Why: every Kubernetes-facing test in this project trusts ``control_plane`` to
be a genuine kube-apiserver + etcd. These tests pin down the behaviours the
operator and chart rely on - structural-schema validation, the status
subresource, ServiceAccount tokens with audiences, TokenReview, RBAC, helm and
the reported version - so a broken or substituted control plane fails loudly.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.envtest import CommandError, ControlPlane, pinned_versions

pytestmark = pytest.mark.k8s

GROUP = "envtest.clef-pro.test"
VERSION = "v1alpha1"
CRD_NAME = f"widgets.{GROUP}"
AUDIENCE = "clef-pro-envtest"

WIDGET_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size", "color"],
                                "properties": {
                                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                                    "color": {"type": "string", "enum": ["red", "green"]},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "phase": {"type": "string"},
                                    "observedGeneration": {"type": "integer"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def widget(name: str, namespace: str, **spec: Any) -> str:
    """A Widget manifest as JSON (valid YAML) for ``kubectl ... -f -``."""
    return json.dumps(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Widget",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


@pytest.fixture(scope="module")
def widget_crd(control_plane: ControlPlane) -> Iterator[str]:
    """The Widget CRD, applied and Established; removed after the module."""
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(WIDGET_CRD))
    control_plane.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    yield CRD_NAME
    control_plane.kubectl("delete", "crd", CRD_NAME, "--wait=false", check=False)


def service_account_token(
    control_plane: ControlPlane, namespace: str, name: str, audience: str | None = None
) -> str:
    args = ["create", "token", name, "--namespace", namespace, "--duration=10m"]
    if audience is not None:
        args.append(f"--audience={audience}")
    return control_plane.kubectl(*args).stdout.strip()


def token_review(
    control_plane: ControlPlane, token: str, audiences: list[str] | None = None
) -> dict[str, Any]:
    """POST a TokenReview as the admin (client certificate) and return its status."""
    spec: dict[str, Any] = {"token": token}
    if audiences is not None:
        spec["audiences"] = audiences
    with control_plane.http() as http:
        response = http.post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
        )
    assert response.status_code == 201, response.text
    status: dict[str, Any] = response.json()["status"]
    return status


# ---------------------------------------------------------------- namespaces


def test_namespace_fixture_creates_an_active_namespace_with_default_service_account(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    namespace = control_plane.kubectl_json("get", "namespace", k8s_namespace)

    assert namespace["status"]["phase"] == "Active"
    assert namespace["metadata"]["labels"]["clef-pro.test/envtest"] == "true"
    control_plane.kubectl("get", "serviceaccount", "default", "--namespace", k8s_namespace)


def test_pod_passes_service_account_admission_and_gets_a_projected_token(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": k8s_namespace},
        "spec": {"containers": [{"name": "c", "image": "registry.invalid/none:0"}]},
    }

    created = control_plane.kubectl_json("create", "-f", "-", input=json.dumps(pod))

    assert created["spec"]["serviceAccountName"] == "default"
    volumes = {v["name"]: v for v in created["spec"]["volumes"]}
    assert any(name.startswith("kube-api-access-") for name in volumes)


# ---------------------------------------------------------------- schema + status


def test_api_server_rejects_object_violating_crd_schema_with_its_message(
    control_plane: ControlPlane, widget_crd: str, k8s_namespace: str
) -> None:
    bad = widget("bad", k8s_namespace, size=0, color="blue")

    with pytest.raises(CommandError) as refused:
        control_plane.kubectl("create", "-f", "-", input=bad)

    message = refused.value.stderr
    assert "is invalid" in message
    assert (
        "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
        in (message)
    )
    assert 'spec.color: Unsupported value: "blue"' in message
    assert control_plane.kubectl("get", "widgets", "-n", k8s_namespace, "-o", "name").stdout == ""


def test_api_server_answers_422_invalid_for_missing_required_field(
    control_plane: ControlPlane, widget_crd: str, k8s_namespace: str
) -> None:
    with control_plane.http() as http:
        response = http.post(
            f"/apis/{GROUP}/{VERSION}/namespaces/{k8s_namespace}/widgets",
            content=widget("no-color", k8s_namespace, size=3),
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["reason"] == "Invalid"
    assert {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.color"} in (
        body["details"]["causes"]
    )


def test_status_subresource_owns_status_and_main_resource_owns_spec(
    control_plane: ControlPlane, widget_crd: str, k8s_namespace: str
) -> None:
    ns = ["--namespace", k8s_namespace]
    control_plane.kubectl(
        "create", "-f", "-", input=widget("w", k8s_namespace, size=2, color="red")
    )

    control_plane.kubectl(
        "patch", "widget", "w", *ns, "--subresource=status", "--type=merge",
        "-p", '{"status": {"phase": "Ready", "observedGeneration": 1}}',
    )  # fmt: skip
    after_status = control_plane.kubectl_json("get", "widget", "w", *ns)

    assert after_status["status"] == {"phase": "Ready", "observedGeneration": 1}
    assert after_status["metadata"]["generation"] == 1  # status writes do not bump generation

    control_plane.kubectl(
        "patch", "widget", "w", *ns, "--type=merge",
        "-p", '{"spec": {"size": 3}, "status": {"phase": "Hijacked"}}',
    )  # fmt: skip
    after_spec = control_plane.kubectl_json("get", "widget", "w", *ns)

    assert after_spec["spec"]["size"] == 3
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["status"]["phase"] == "Ready"  # the main resource ignores status


def test_status_subresource_ignores_spec_changes(
    control_plane: ControlPlane, widget_crd: str, k8s_namespace: str
) -> None:
    ns = ["--namespace", k8s_namespace]
    control_plane.kubectl(
        "create", "-f", "-", input=widget("w", k8s_namespace, size=2, color="red")
    )

    control_plane.kubectl(
        "patch", "widget", "w", *ns, "--subresource=status", "--type=merge",
        "-p", '{"spec": {"size": 9}, "status": {"phase": "Ready"}}',
    )  # fmt: skip
    current = control_plane.kubectl_json("get", "widget", "w", *ns)

    assert current["spec"]["size"] == 2
    assert current["status"]["phase"] == "Ready"


# ---------------------------------------------------------------- tokens


def test_token_review_authenticates_service_account_token_for_its_audience(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    control_plane.kubectl("create", "serviceaccount", "robot", "--namespace", k8s_namespace)
    token = service_account_token(control_plane, k8s_namespace, "robot", audience=AUDIENCE)

    status = token_review(control_plane, token, audiences=[AUDIENCE])

    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{k8s_namespace}:robot"
    assert f"system:serviceaccounts:{k8s_namespace}" in status["user"]["groups"]
    assert status["audiences"] == [AUDIENCE]


def test_token_review_refuses_token_minted_for_another_audience(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    control_plane.kubectl("create", "serviceaccount", "robot", "--namespace", k8s_namespace)
    token = service_account_token(control_plane, k8s_namespace, "robot", audience="someone-else")

    status = token_review(control_plane, token, audiences=[AUDIENCE])

    assert status.get("authenticated", False) is False
    assert "user" not in status or not status["user"]
    assert status.get("error")


def test_token_with_default_audience_is_valid_for_the_api_server(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    control_plane.kubectl("create", "serviceaccount", "robot", "--namespace", k8s_namespace)
    token = service_account_token(control_plane, k8s_namespace, "robot")

    status = token_review(control_plane, token)

    assert status["authenticated"] is True
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]


def test_token_stops_authenticating_once_its_service_account_is_deleted(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    control_plane.kubectl("create", "serviceaccount", "robot", "--namespace", k8s_namespace)
    token = service_account_token(control_plane, k8s_namespace, "robot", audience=AUDIENCE)
    assert token_review(control_plane, token, audiences=[AUDIENCE])["authenticated"] is True

    control_plane.kubectl("delete", "serviceaccount", "robot", "--namespace", k8s_namespace)

    # kube-apiserver caches successful token authentications for 10 s, so
    # revocation is eventually (not immediately) visible, as in production.
    deadline = time.monotonic() + 30
    while token_review(control_plane, token, audiences=[AUDIENCE]).get("authenticated"):
        assert time.monotonic() < deadline, "token still valid 30 s after its SA was deleted"
        time.sleep(0.5)


# ---------------------------------------------------------------- RBAC


def test_rbac_forbids_impersonated_user_without_roles(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    with pytest.raises(CommandError) as forbidden:
        control_plane.kubectl("get", "configmaps", "--namespace", k8s_namespace, "--as=alice")

    assert "Forbidden" in forbidden.value.stderr
    assert (
        f'User "alice" cannot list resource "configmaps" in API group "" '
        f'in the namespace "{k8s_namespace}"'
    ) in forbidden.value.stderr


def test_rbac_grants_service_account_only_what_its_role_binds(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    ns = ["--namespace", k8s_namespace]
    sa = f"system:serviceaccount:{k8s_namespace}:robot"
    control_plane.kubectl("create", "serviceaccount", "robot", *ns)

    def can_i(verb: str, resource: str) -> str:
        result = control_plane.kubectl(
            "auth", "can-i", verb, resource, *ns, f"--as={sa}", check=False
        )
        return result.stdout.strip()

    assert can_i("list", "configmaps") == "no"

    control_plane.kubectl(
        "create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps", *ns
    )
    control_plane.kubectl(
        "create", "rolebinding", "robot-cm-reader", "--role=cm-reader",
        f"--serviceaccount={k8s_namespace}:robot", *ns,
    )  # fmt: skip

    assert can_i("list", "configmaps") == "yes"
    assert can_i("list", "secrets") == "no"
    assert can_i("delete", "configmaps") == "no"


def test_service_account_token_is_authorized_by_rbac_on_real_requests(
    control_plane: ControlPlane, k8s_namespace: str
) -> None:
    ns = ["--namespace", k8s_namespace]
    control_plane.kubectl("create", "serviceaccount", "robot", *ns)
    control_plane.kubectl(
        "create", "role", "cm-reader", "--verb=list", "--resource=configmaps", *ns
    )
    control_plane.kubectl(
        "create", "rolebinding", "robot-cm-reader", "--role=cm-reader",
        f"--serviceaccount={k8s_namespace}:robot", *ns,
    )  # fmt: skip
    token = service_account_token(control_plane, k8s_namespace, "robot")

    # Same TLS trust as the admin, but authenticated by the bearer token only.
    with httpx.Client(
        base_url=control_plane.server,
        verify=control_plane.tls_context(),
        headers={"Authorization": f"Bearer {token}"},
    ) as robot:
        allowed = robot.get(f"/api/v1/namespaces/{k8s_namespace}/configmaps")
        denied = robot.get(f"/api/v1/namespaces/{k8s_namespace}/secrets")
        whoami = robot.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )

    assert allowed.status_code == 200, allowed.text
    assert denied.status_code == 403, denied.text
    assert denied.json()["reason"] == "Forbidden"
    assert whoami.status_code == 201, whoami.text
    user = whoami.json()["status"]["userInfo"]
    assert user["username"] == f"system:serviceaccount:{k8s_namespace}:robot"
    assert "system:masters" not in user["groups"]


# ---------------------------------------------------------------- version + helm


def test_version_endpoint_reports_the_pinned_kubernetes_release(
    control_plane: ControlPlane,
) -> None:
    pinned = pinned_versions()["kubernetes"]
    major, minor = pinned.removeprefix("v").split(".")[:2]

    with control_plane.http() as http:
        server = http.get("/version").json()
    client = json.loads(control_plane.kubectl("version", "--output=json").stdout)

    assert control_plane.server.startswith("https://127.0.0.1:")
    assert server["gitVersion"] == pinned
    assert (server["major"], server["minor"]) == (major, minor)
    assert client["clientVersion"]["gitVersion"] == pinned
    assert client["serverVersion"]["gitVersion"] == pinned


def test_helm_reports_its_pinned_version(control_plane: ControlPlane) -> None:
    version = control_plane.helm("version", "--template={{.Version}}").stdout.strip()

    assert version == pinned_versions()["helm"]


def write_chart(root: Path, kube_version: str) -> Path:
    chart = root / "demo"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        textwrap.dedent(
            f"""\
            apiVersion: v2
            name: demo
            version: 0.1.0
            kubeVersion: "{kube_version}"
            """
        )
    )
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        textwrap.dedent(
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata:
              name: {{ .Release.Name }}-demo
              namespace: {{ .Release.Namespace }}
            data:
              greeting: {{ .Values.greeting | quote }}
              kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
            """
        )
    )
    return chart


def test_helm_template_validates_against_the_live_cluster_version(
    control_plane: ControlPlane, k8s_namespace: str, tmp_path: Path
) -> None:
    pinned = pinned_versions()["kubernetes"]
    chart = write_chart(tmp_path, ">=1.34.0-0")

    rendered = control_plane.helm(
        "template", "demo", str(chart), "--namespace", k8s_namespace, "--validate"
    ).stdout
    manifest = yaml.safe_load(rendered)

    assert manifest["metadata"] == {"name": "demo-demo", "namespace": k8s_namespace}
    assert manifest["data"] == {"greeting": "hello", "kubeVersion": pinned}


def test_helm_refuses_chart_whose_kube_version_excludes_the_cluster(
    control_plane: ControlPlane, k8s_namespace: str, tmp_path: Path
) -> None:
    chart = write_chart(tmp_path, "<1.30.0-0")

    result = control_plane.helm(
        "template", "demo", str(chart), "--namespace", k8s_namespace, "--validate", check=False
    )

    assert result.returncode != 0
    assert "chart requires kubeVersion: <1.30.0-0" in result.stderr
    assert pinned_versions()["kubernetes"] in result.stderr


def test_helm_installs_chart_into_namespace(
    control_plane: ControlPlane, k8s_namespace: str, tmp_path: Path
) -> None:
    chart = write_chart(tmp_path, ">=1.34.0-0")

    control_plane.helm("install", "demo", str(chart), "--namespace", k8s_namespace)
    config_map = control_plane.kubectl_json(
        "get", "configmap", "demo-demo", "--namespace", k8s_namespace
    )

    assert config_map["data"]["greeting"] == "hello"
    assert config_map["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
