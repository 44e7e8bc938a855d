"""The Helm chart, as Helm renders it: lint, templates, RBAC, security, secrets, CRDs.

Pure rendering (``helm lint``, ``helm template``): no cluster is involved.
What the API server makes of these manifests is tests/k8s/test_chart_install.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clef_pro_api.settings import Settings
from clef_pro_operator.settings import OperatorSettings
from tests.support.chart import ALL_VALUES, CHART, Manifests, Rule, pod_specs, render, rules_of
from tests.support.envtest import REPO_ROOT, CommandError

pytestmark = pytest.mark.helm

NS = "clef-system"
PEERING = ("kopf.dev", "kopfpeerings", ("get", "list", "patch", "watch"))
CLUSTER_PEERING = ("kopf.dev", "clusterkopfpeerings", ("get", "list", "patch", "watch"))
KINDS = ("integrations", "policies", "notificationchannels")

#: What the operator may do in each watched namespace, and nothing more.
OPERATOR_WATCH_RULES: set[Rule] = {
    *(("pro.clef.sh", kind, ("get", "list", "patch", "watch")) for kind in KINDS),
    *(("pro.clef.sh", f"{kind}/status", ("get", "patch")) for kind in KINDS),
    ("pro.clef.sh", "integrations/finalizers", ("update",)),
    ("", "secrets", ("create", "delete", "get", "patch")),
    ("", "events", ("create",)),
}
#: What Kopf needs cluster-wide, whatever it watches.
OPERATOR_CLUSTER_RULES: set[Rule] = {
    ("apiextensions.k8s.io", "customresourcedefinitions", ("list", "watch")),
    ("authentication.k8s.io", "selfsubjectreviews", ("create",)),
}
#: Kopf lists and watches namespaces only when it watches named ones.
NAMESPACES_RULE: Rule = ("", "namespaces", ("list", "watch"))
API_RULES: set[Rule] = {
    ("authentication.k8s.io", "tokenreviews", ("create",)),
    ("authorization.k8s.io", "subjectaccessreviews", ("create",)),
}


@pytest.fixture
def tpl(helm: Path, tmp_path: Path) -> Any:
    """``tpl(*args, values=...)`` renders the chart (release clef-pro in clef-system)."""

    def run(*args: str, values: dict[str, Any] | None = None) -> Manifests:
        return render(helm, *args, values=values, namespace=NS, tmp=tmp_path)

    return run


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env") or []}


def env_value(container: dict[str, Any], name: str) -> str:
    value: str = env_of(container)[name]["value"]
    return value


# ------------------------------------------------------------------ lint and kinds


@pytest.mark.parametrize("values", [None, ALL_VALUES], ids=["defaults", "all-options"])
def test_helm_lint_is_clean(helm: Path, values: Path | None) -> None:
    args = [str(helm), "lint", "--strict", str(CHART)]
    if values is not None:
        args += ["--values", str(values)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "0 chart(s) failed" in output
    # `fail` inside templates is only logged by lint: none may fire.
    assert "Fail:" not in output
    assert not re.search(r"\[(WARNING|ERROR)\]", output), output


def test_defaults_render_the_whole_installation(tpl: Any) -> None:
    manifests = tpl()
    assert manifests.kinds() == sorted(
        [
            "ClusterRole",  # the API's reviews
            "ClusterRole",  # what Kopf needs cluster-wide
            "ClusterRoleBinding",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Deployment",  # API
            "Deployment",  # operator
            "Job",  # migrations (hook)
            "KopfPeering",
            "PodDisruptionBudget",
            "Role",
            "RoleBinding",
            "Secret",  # the generated admin token
            "Service",
            "ServiceAccount",
            "ServiceAccount",
        ]
    )


def test_every_option_renders(tpl: Any) -> None:
    manifests = tpl("--values", str(ALL_VALUES))
    for kind in ("Ingress", "HorizontalPodAutoscaler", "ServiceMonitor", "PodDisruptionBudget"):
        assert len(manifests.of_kind(kind)) == 1, kind
    ingress = manifests.get("Ingress", "clef-pro-all")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [
        {"hosts": ["clef-pro.example.com"], "secretName": "clef-pro-tls"}
    ]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "clef-pro-all", "port": {"name": "http"}}
    hpa = manifests.get("HorizontalPodAutoscaler", "clef-pro-all")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "clef-pro-all"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 8)
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu", "memory"]
    # The HPA owns the replica count.
    assert "replicas" not in manifests.get("Deployment", "clef-pro-all")["spec"]
    monitor = manifests.get("ServiceMonitor", "clef-pro-all")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http",
            "path": "/metrics",
            "interval": "15s",
            "scrapeTimeout": "5s",
            "authorization": {
                "type": "Bearer",
                "credentials": {"name": "prometheus-scrape", "key": "bearer"},
            },
        }
    ]
    assert manifests.get("PodDisruptionBudget", "clef-pro-all")["spec"]["minAvailable"] == 2
    for doc in manifests:
        if doc["kind"] != "CustomResourceDefinition":
            assert doc["metadata"]["labels"]["team"] == "platform", doc["kind"]


def test_a_metrics_token_guards_metrics_and_the_service_monitor_presents_it(tpl: Any) -> None:
    monitor_on = {"api": {"serviceMonitor": {"enabled": True}}}
    open_metrics = tpl(values=monitor_on)
    (api,) = open_metrics.get("Deployment", "clef-pro")["spec"]["template"]["spec"]["containers"]
    assert "CLEF_PRO_METRICS_TOKEN_FILE" not in env_of(api)
    endpoint = open_metrics.get("ServiceMonitor", "clef-pro")["spec"]["endpoints"][0]
    assert "authorization" not in endpoint

    generated = tpl(
        values={"api": {"serviceMonitor": {"enabled": True}, "metricsToken": {"generate": True}}}
    )
    secret = generated.get("Secret", "clef-pro-metrics-token")
    assert len(secret["data"]["token"]) > 40
    spec = generated.get("Deployment", "clef-pro")["spec"]["template"]["spec"]
    (api,) = spec["containers"]
    assert (
        env_value(api, "CLEF_PRO_METRICS_TOKEN_FILE") == "/var/run/secrets/clef-pro/metrics/token"
    )
    mount = next(m for m in api["volumeMounts"] if m["name"] == "metrics-token")
    assert mount == {
        "name": "metrics-token",
        "mountPath": "/var/run/secrets/clef-pro/metrics",
        "readOnly": True,
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["metrics-token"]["secret"]["secretName"] == "clef-pro-metrics-token"
    endpoint = generated.get("ServiceMonitor", "clef-pro")["spec"]["endpoints"][0]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "clef-pro-metrics-token", "key": "token"},
    }


def test_optional_objects_are_off_by_default(tpl: Any) -> None:
    kinds = tpl().kinds()
    for kind in ("Ingress", "HorizontalPodAutoscaler", "ServiceMonitor"):
        assert kind not in kinds
    pdb = tpl().get("PodDisruptionBudget", "clef-pro")
    assert pdb["spec"] == {
        "maxUnavailable": 1,
        "selector": {
            "matchLabels": {
                "app.kubernetes.io/name": "clef-pro",
                "app.kubernetes.io/instance": "clef-pro",
                "app.kubernetes.io/component": "api",
            }
        },
    }
    off = tpl("--set", "api.podDisruptionBudget.enabled=false")
    assert "PodDisruptionBudget" not in off.kinds()


# ------------------------------------------------------------------ RBAC


def role_rules(manifests: Manifests) -> dict[tuple[str, str, str | None], set[Rule]]:
    """{(kind, name, namespace): rules} of every Role and ClusterRole."""
    return {
        (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace")): rules_of(doc)
        for doc in manifests
        if doc["kind"] in ("Role", "ClusterRole")
    }


def bindings(manifests: Manifests) -> dict[tuple[str, str, str | None], tuple[str, str, str]]:
    """{(kind, name, namespace): (roleRef kind, roleRef name, subject)} of every binding."""
    found = {}
    for doc in manifests:
        if doc["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        (subject,) = doc["subjects"]
        assert subject["kind"] == "ServiceAccount"
        found[(doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"))] = (
            doc["roleRef"]["kind"],
            doc["roleRef"]["name"],
            f"{subject['namespace']}:{subject['name']}",
        )
    return found


def test_rbac_defaults_watch_the_release_namespace_only(tpl: Any) -> None:
    manifests = tpl()
    assert role_rules(manifests) == {
        ("ClusterRole", "clef-pro-api", None): API_RULES,
        ("ClusterRole", "clef-pro-operator", None): OPERATOR_CLUSTER_RULES | {NAMESPACES_RULE},
        ("Role", "clef-pro-operator", NS): OPERATOR_WATCH_RULES | {PEERING},
    }
    operator, api = f"{NS}:clef-pro-operator", f"{NS}:clef-pro"
    assert bindings(manifests) == {
        ("ClusterRoleBinding", "clef-pro-api", None): ("ClusterRole", "clef-pro-api", api),
        ("ClusterRoleBinding", "clef-pro-operator", None): (
            "ClusterRole",
            "clef-pro-operator",
            operator,
        ),
        ("RoleBinding", "clef-pro-operator", NS): ("Role", "clef-pro-operator", operator),
    }


def test_rbac_named_namespaces_get_one_role_each(tpl: Any) -> None:
    manifests = tpl("--set", "operator.watchNamespaces={team-a,team-b}")
    assert role_rules(manifests) == {
        ("ClusterRole", "clef-pro-api", None): API_RULES,
        ("ClusterRole", "clef-pro-operator", None): OPERATOR_CLUSTER_RULES | {NAMESPACES_RULE},
        ("Role", "clef-pro-operator", "team-a"): OPERATOR_WATCH_RULES | {PEERING},
        ("Role", "clef-pro-operator", "team-b"): OPERATOR_WATCH_RULES | {PEERING},
    }
    # Nothing in the release namespace it does not watch.
    assert {ns for _, _, ns in bindings(manifests)} == {None, "team-a", "team-b"}


def test_rbac_all_namespaces_is_one_cluster_role(tpl: Any) -> None:
    manifests = tpl("--set", "operator.watchNamespaces={*}")
    assert role_rules(manifests) == {
        ("ClusterRole", "clef-pro-api", None): API_RULES,
        ("ClusterRole", "clef-pro-operator", None): OPERATOR_CLUSTER_RULES,
        ("ClusterRole", "clef-pro-operator-watch", None): OPERATOR_WATCH_RULES | {CLUSTER_PEERING},
    }
    assert set(bindings(manifests).values()) == {
        ("ClusterRole", "clef-pro-api", f"{NS}:clef-pro"),
        ("ClusterRole", "clef-pro-operator", f"{NS}:clef-pro-operator"),
        ("ClusterRole", "clef-pro-operator-watch", f"{NS}:clef-pro-operator"),
    }


def test_rbac_without_peering_has_no_peering_rule(tpl: Any) -> None:
    named = tpl("--set", "operator.peering.enabled=false")
    assert role_rules(named)[("Role", "clef-pro-operator", NS)] == OPERATOR_WATCH_RULES
    everywhere = tpl(
        "--set", "operator.peering.enabled=false", "--set", "operator.watchNamespaces={*}"
    )
    watch = role_rules(everywhere)[("ClusterRole", "clef-pro-operator-watch", None)]
    assert watch == OPERATOR_WATCH_RULES


def test_rbac_without_the_operator_is_the_api_only(tpl: Any) -> None:
    manifests = tpl("--set", "operator.enabled=false")
    assert role_rules(manifests) == {("ClusterRole", "clef-pro-api", None): API_RULES}
    assert [d["metadata"]["name"] for d in manifests.of_kind("Deployment")] == ["clef-pro"]
    assert "KopfPeering" not in manifests.kinds()
    api = manifests.get("Deployment", "clef-pro")["spec"]["template"]["spec"]["containers"][0]
    assert "CLEF_PRO_OPERATOR_SERVICE_ACCOUNT" not in env_of(api)


def test_watching_every_namespace_cannot_be_mixed_with_names(tpl: Any) -> None:
    with pytest.raises(CommandError, match="cannot be combined"):
        tpl("--set", "operator.watchNamespaces={*,team-a}")


# ------------------------------------------------------------------ workloads


def test_every_pod_runs_locked_down(tpl: Any) -> None:
    for manifests in (tpl(), tpl("--values", str(ALL_VALUES))):
        specs = pod_specs(manifests)
        assert len(specs) == 3  # API, operator, migrations
        for name, spec in specs:
            assert spec["securityContext"] == {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "fsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            }, name
            assert spec.get("hostNetwork") is None
            assert spec.get("hostPID") is None
            for container in spec["containers"]:
                assert container["securityContext"] == {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "privileged": False,
                    "capabilities": {"drop": ["ALL"]},
                }, name
                # The only writable place: an emptyDir on /tmp.
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                assert mounts["/tmp"] == "tmp"
                volumes = {v["name"]: v for v in spec["volumes"]}
                assert "emptyDir" in volumes["tmp"]
                assert container["resources"]["requests"], name
                assert container["resources"]["limits"]["memory"], name


def test_the_api_serves_without_migrating_and_probes_readiness(tpl: Any) -> None:
    deployment = tpl().get("Deployment", "clef-pro")
    spec = deployment["spec"]["template"]["spec"]
    (api,) = spec["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert api["image"] == "clef-pro:0.1.0"
    everywhere = "0.0.0.0"  # noqa: S104 - the pod's address, as a server in a container must
    assert api["args"] == ["serve", "--host", everywhere, "--port", "8000", "--no-migrate"]
    assert api["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert api["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert api["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert spec["serviceAccountName"] == "clef-pro"
    assert spec["automountServiceAccountToken"] is True
    assert env_value(api, "CLEF_PRO_AUTO_MIGRATE") == "false"
    assert env_value(api, "CLEF_PRO_DATA_DIR") == "/tmp/clef-pro"
    assert env_value(api, "CLEF_PRO_KUBERNETES_AUTH") == "true"
    assert env_value(api, "CLEF_PRO_KUBERNETES_TOKEN_AUDIENCE") == "clef-pro"
    assert env_value(api, "CLEF_PRO_OPERATOR_SERVICE_ACCOUNT") == f"{NS}:clef-pro-operator"
    assert env_value(api, "CLEF_PRO_ADMIN_TOKEN_FILE") == "/var/run/secrets/clef-pro/admin/token"
    # The sign-in page tells people how to read the token the chart generated.
    assert env_value(api, "CLEF_PRO_ADMIN_TOKEN_HINT") == (
        f"kubectl -n {NS} get secret clef-pro-admin-token -o jsonpath='{{.data.token}}' | base64 -d"
    )
    assert env_of(api)["CLEF_PRO_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "clef-pro-database", "key": "url"}
    }
    service = tpl().get("Service", "clef-pro")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
    ]


def test_the_api_settings_follow_the_values(tpl: Any) -> None:
    manifests = tpl("--values", str(ALL_VALUES))
    spec = manifests.get("Deployment", "clef-pro-all")["spec"]["template"]["spec"]
    (api,) = spec["containers"]
    assert api["image"] == (
        "registry.example.com/platform/clef-pro@sha256:"
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    )
    assert api["imagePullPolicy"] == "Always"
    assert spec["imagePullSecrets"] == [{"name": "registry-credentials"}]
    assert spec["serviceAccountName"] == "clef-pro-api-sa"
    assert {k: v.get("value") for k, v in env_of(api).items() if "valueFrom" not in v} == {
        "CLEF_PRO_DATA_DIR": "/tmp/clef-pro",
        "CLEF_PRO_AUTO_MIGRATE": "false",
        "CLEF_PRO_DATABASE_POOL_SIZE": "20",
        "CLEF_PRO_PUBLIC_URL": "https://clef-pro.example.com",
        "CLEF_PRO_LOG_LEVEL": "debug",
        "CLEF_PRO_NOTIFY_SENDER": "true",
        "CLEF_PRO_NOTIFY_ALLOWED_NETWORKS": "10.96.0.10/32,fd00:10:96::/112",
        "CLEF_PRO_DASHBOARD_AUTH": "kubernetes",
        "CLEF_PRO_SESSION_SECRET_FILE": "/var/run/secrets/clef-pro/session/key",
        "CLEF_PRO_ADMIN_TOKEN_FILE": "/var/run/secrets/clef-pro/admin/token",
        "CLEF_PRO_ADMIN_TOKEN_HINT": (
            f"kubectl -n {NS} get secret clef-pro-admin -o jsonpath='{{.data.admin-token}}' "
            "| base64 -d"
        ),
        "CLEF_PRO_KUBERNETES_AUTH": "true",
        "CLEF_PRO_KUBERNETES_TOKEN_AUDIENCE": "clef-pro-all",
        "CLEF_PRO_OPERATOR_SERVICE_ACCOUNT": f"{NS}:clef-pro-operator-sa",
        "CLEF_PRO_SMTP_HOST": "smtp.example.com",
        "CLEF_PRO_SMTP_PORT": "465",
        "CLEF_PRO_SMTP_FROM": "Clef Pro <clef-pro@example.com>",
        "CLEF_PRO_SMTP_USERNAME": "clef-pro",
        "CLEF_PRO_SMTP_TLS": "true",
        "CLEF_PRO_SMTP_PASSWORD_FILE": "/var/run/secrets/clef-pro/smtp/password",
        "CLEF_PRO_METRICS_TOKEN_FILE": "/var/run/secrets/clef-pro/metrics/token",
        "CLEF_PRO_MAX_REPORT_BYTES": "2097152",
    }
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["admin-token"]["secret"]["secretName"] == "clef-pro-admin"
    assert volumes["admin-token"]["secret"]["items"] == [{"key": "admin-token", "path": "token"}]
    assert volumes["smtp-password"]["secret"]["secretName"] == "clef-pro-all-smtp"
    assert volumes["session-secret"]["secret"]["secretName"] == "clef-pro-session"
    assert volumes["session-secret"]["secret"]["items"] == [{"key": "key", "path": "key"}]
    assert volumes["metrics-token"]["secret"]["secretName"] == "prometheus-scrape"
    assert volumes["metrics-token"]["secret"]["items"] == [{"key": "bearer", "path": "token"}]


def test_every_setting_the_chart_passes_exists(tpl: Any) -> None:
    """The environment is the service's and the operator's settings, by name:
    a misspelt variable would be silently ignored (extra="ignore")."""
    service = {f"CLEF_PRO_{name.upper()}" for name in Settings.model_fields}
    operator = {f"CLEF_PRO_OPERATOR_{name.upper()}" for name in OperatorSettings.model_fields}
    for manifests in (tpl(), tpl("--values", str(ALL_VALUES))):
        for name, spec in pod_specs(manifests):
            known = operator if name.endswith("-operator") else service
            for container in spec["containers"]:
                assert set(env_of(container)) <= known, name


def test_the_operator_is_one_recreated_replica_with_a_progress_probe(tpl: Any) -> None:
    deployment = tpl().get("Deployment", "clef-pro-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    (operator,) = spec["containers"]
    assert operator["args"] == [
        "operator",
        "--namespace",
        NS,
        "--peering",
        "clef-pro",
        "--liveness",
        "http://0.0.0.0:8081/healthz",
    ]
    assert operator["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert operator["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert operator["ports"] == [{"name": "healthz", "containerPort": 8081, "protocol": "TCP"}]
    assert spec["serviceAccountName"] == "clef-pro-operator"
    assert env_value(operator, "CLEF_PRO_OPERATOR_SERVICE_URL") == (
        f"http://clef-pro.{NS}.svc:8000"
    )


@pytest.mark.parametrize(
    ("watch", "expected"),
    [
        ("{team-a,team-b}", ["--namespace", "team-a", "--namespace", "team-b"]),
        ("{*}", ["--all-namespaces"]),
    ],
)
def test_the_operator_watches_what_the_values_say(
    tpl: Any, watch: str, expected: list[str]
) -> None:
    manifests = tpl("--set", f"operator.watchNamespaces={watch}", "--set", "operator.verbose=true")
    (operator,) = manifests.get("Deployment", "clef-pro-operator")["spec"]["template"]["spec"][
        "containers"
    ]
    assert operator["args"] == [
        "operator",
        *expected,
        "--peering",
        "clef-pro",
        "--liveness",
        "http://0.0.0.0:8081/healthz",
        "--verbose",
    ]


def test_the_operator_token_is_for_the_services_audience_only(tpl: Any) -> None:
    for manifests, name in (
        (tpl(), "clef-pro"),
        (tpl("--values", str(ALL_VALUES)), "clef-pro-all"),
    ):
        api_spec = manifests.get("Deployment", name)["spec"]["template"]["spec"]
        audience = env_value(api_spec["containers"][0], "CLEF_PRO_KUBERNETES_TOKEN_AUDIENCE")
        spec = manifests.get("Deployment", f"{name}-operator")["spec"]["template"]["spec"]
        (operator,) = spec["containers"]
        token_file = env_value(operator, "CLEF_PRO_OPERATOR_SERVICE_TOKEN_FILE")
        volumes = {v["name"]: v for v in spec["volumes"]}
        (source,) = volumes["service-token"]["projected"]["sources"]
        token = source["serviceAccountToken"]
        assert token["audience"] == audience
        assert token["expirationSeconds"] >= 600
        mount = next(m for m in operator["volumeMounts"] if m["name"] == "service-token")
        assert f"{mount['mountPath']}/{token['path']}" == token_file
        assert mount["readOnly"] is True


def test_peering_objects_live_where_kopf_looks_for_them(tpl: Any) -> None:
    named = tpl("--set", "operator.watchNamespaces={team-a,team-b}")
    assert sorted(
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in named.of_kind("KopfPeering")
    ) == [("team-a", "clef-pro"), ("team-b", "clef-pro")]
    assert "ClusterKopfPeering" not in named.kinds()
    everywhere = tpl("--set", "operator.watchNamespaces={*}")
    assert [d["metadata"]["name"] for d in everywhere.of_kind("ClusterKopfPeering")] == ["clef-pro"]
    assert "KopfPeering" not in everywhere.kinds()
    alone = tpl("--set", "operator.peering.enabled=false")
    assert "KopfPeering" not in alone.kinds()
    (operator,) = alone.get("Deployment", "clef-pro-operator")["spec"]["template"]["spec"][
        "containers"
    ]
    assert "--peering" not in operator["args"]


def test_migrations_run_in_a_hook_before_replicas_start(tpl: Any) -> None:
    job = tpl().get("Job", "clef-pro-migrate")
    assert job["metadata"]["annotations"] == {
        "helm.sh/hook": "pre-install,pre-upgrade",
        "helm.sh/hook-weight": "0",
        "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
    }
    spec = job["spec"]["template"]["spec"]
    (migrate,) = spec["containers"]
    assert migrate["args"] == ["migrate"]
    assert spec["restartPolicy"] == "Never"
    # It needs no Kubernetes API access (and the chart's ServiceAccounts do
    # not exist yet before an install).
    assert spec["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in spec
    assert env_of(migrate)["CLEF_PRO_DATABASE_URL"]["valueFrom"] == {
        "secretKeyRef": {"name": "clef-pro-database", "key": "url"}
    }
    assert "Job" not in tpl("--set", "migrations.enabled=false").kinds()


def test_a_database_is_required(tpl: Any) -> None:
    with pytest.raises(CommandError, match=r"set database\.existingSecret"):
        tpl("--set", "database.existingSecret=")


def test_a_plain_database_url_becomes_a_hook_secret_created_before_the_job(tpl: Any) -> None:
    url = "postgresql+psycopg://clef:pw@db:5432/clef"
    manifests = tpl("--set", f"database.url={url}")
    secret = manifests.get("Secret", "clef-pro-database")
    annotations = secret["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation"
    job = manifests.get("Job", "clef-pro-migrate")
    assert int(annotations["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )
    assert secret["stringData"] == {"url": url}


# ------------------------------------------------------------------ secrets


def _secret_like_values(values: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(values, dict):
        for key, value in values.items():
            yield from _secret_like_values(value, f"{path}.{key}" if path else key)
    elif re.search(r"(password|token|url)$", path, re.IGNORECASE) and not re.search(
        r"(existingSecret\w*|publicUrl)$", path
    ):
        yield path, values


def test_no_secret_has_a_default_in_values() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    found = dict(_secret_like_values(defaults))
    assert set(found) == {"database.url", "smtp.password"}
    assert all(value == "" for value in found.values()), found


def test_secrets_reach_containers_only_through_secret_objects(tpl: Any) -> None:
    manifests = tpl("--values", str(ALL_VALUES))
    plain = ["plain-db-password", "plain-smtp-password"]
    defaults = tpl()
    generated = defaults.get("Secret", "clef-pro-admin-token")["data"]["token"]
    for doc in defaults:
        if doc["kind"] != "Secret":
            assert generated not in yaml.safe_dump(doc), doc["kind"]
    for doc in manifests:
        text = yaml.safe_dump(doc)
        if doc["kind"] == "Secret":
            continue
        for value in plain:
            assert value not in text, f"{value} in {doc['kind']} {doc['metadata']['name']}"
    for _, spec in pod_specs(manifests) + pod_specs(defaults):
        for container in spec["containers"]:
            for name, item in env_of(container).items():
                if re.search(r"(PASSWORD|TOKEN|DATABASE_URL)(_FILE)?$", name):
                    assert name.endswith("_FILE") or "secretKeyRef" in item.get("valueFrom", {}), (
                        name
                    )
    secrets = {d["metadata"]["name"]: d for d in manifests.of_kind("Secret")}
    assert set(secrets) == {"clef-pro-all-database", "clef-pro-all-smtp"}


# ------------------------------------------------------------------ values and schema

#: Values that are Kubernetes objects passed through as they are (the API
#: server validates them); every other object in the schema is closed.
PASSTHROUGH = {
    "global",
    "api.resources",
    "api.affinity",
    "migrations.resources",
    "operator.resources",
    "operator.affinity",
}


def _schema_objects(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if schema.get("type") == "object" or "properties" in schema:
        yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from _schema_objects(sub, f"{path}.{key}" if path else key)


def test_the_schema_closes_every_object_it_knows() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = set()
    for path, node in _schema_objects(schema):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path
        elif node.get("additionalProperties") == {"type": "string"}:
            continue  # labels, annotations, node selectors: string maps
        else:
            open_objects.add(path)
    assert open_objects == PASSTHROUGH


def _value_keys(values: dict[str, Any], path: str = "") -> Iterator[str]:
    for key, value in values.items():
        here = f"{path}.{key}" if path else key
        yield here
        if isinstance(value, dict) and here not in PASSTHROUGH and value:
            yield from _value_keys(value, here)


def _schema_keys(schema: dict[str, Any], path: str = "") -> Iterator[str]:
    for key, sub in (schema.get("properties") or {}).items():
        here = f"{path}.{key}" if path else key
        yield here
        yield from _schema_keys(sub, here)


def test_values_and_schema_name_the_same_keys() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    # Optional schema keys that values.yaml leaves unset.
    optional = {
        "podSecurityContext.seccompProfile.localhostProfile",
        "containerSecurityContext.capabilities.add",
    }
    assert set(_value_keys(values)) == set(_schema_keys(schema)) - optional


def test_every_value_is_documented_by_a_comment_above_it() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, str]] = []
    undocumented = []
    for number, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([key for _, key in stack] + [match.group(2)])
        stack.append((indent, match.group(2)))
        if any(path.startswith(f"{p}.") for p in PASSTHROUGH):
            continue
        previous = lines[number - 1].strip() if number else ""
        if not previous.startswith("#"):
            undocumented.append(path)
    assert undocumented == []


@pytest.mark.parametrize(
    "typo",
    [
        "replicaCount=3",
        "api.replicaCont=3",
        "api.ingress.tls.enable=true",
        "operator.peering.nam=x",
        "operator.watchNamespace={a}",
        "database.existingSecretkey=x",
        "podSecurityContext.runAsUsr=1",
        "crds.kep=false",
    ],
)
def test_the_schema_refuses_typos(tpl: Any, typo: str) -> None:
    with pytest.raises(CommandError, match="additional properties"):
        tpl("--set", typo)


@pytest.mark.parametrize(
    "bad",
    [
        "operator.watchNamespaces={Team_A}",
        "image.pullPolicy=Sometimes",
        "database.url=mysql://x",
        "api.logLevel=verbose",
    ],
)
def test_the_schema_refuses_bad_values(tpl: Any, bad: str) -> None:
    with pytest.raises(CommandError):
        tpl("--set", bad)


def test_the_image_tag_is_the_app_version_which_is_the_package_version(tpl: Any) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]
    for _, spec in pod_specs(tpl()):
        assert spec["containers"][0]["image"] == f"clef-pro:{project['version']}"
    tagged = tpl("--set", "image.tag=1.2.3", "--set", "image.repository=r.example/clef-pro")
    for _, spec in pod_specs(tagged):
        assert spec["containers"][0]["image"] == "r.example/clef-pro:1.2.3"


# ------------------------------------------------------------------ CRDs

SOURCE_CRDS = sorted((REPO_ROOT / "crds").glob("*.yaml"))
#: The only lines hack/sync-chart-crds.py adds to a CRD, besides its header.
INSERTED = {
    "{{- if .Values.crds.enabled }}",
    "{{- end }}",
    '    {{- include "clef-pro.crdLabels" . | nindent 4 }}',
    "  {{- if .Values.crds.keep }}",
    "  annotations:",
    "    helm.sh/resource-policy: keep",
    "  {{- end }}",
}


def test_the_chart_crd_templates_are_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "hack" / "sync-chart-crds.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_each_crd_template_is_its_source_plus_known_lines() -> None:
    templates = sorted((CHART / "templates" / "crds").glob("*.yaml"))
    assert [t.name for t in templates] == [s.name for s in SOURCE_CRDS]
    for source, template in zip(SOURCE_CRDS, templates, strict=True):
        header, *lines = template.read_text().splitlines()
        assert header.startswith("{{- /* Generated by hack/sync-chart-crds.py")
        kept = [line for line in lines if line not in INSERTED]
        assert kept == source.read_text().splitlines(), template.name


def test_rendered_crds_are_the_crds_folder_with_release_metadata(tpl: Any) -> None:
    rendered = {d["metadata"]["name"]: d for d in tpl().of_kind("CustomResourceDefinition")}
    sources = {}
    for path in SOURCE_CRDS:
        crd = yaml.safe_load(path.read_text())
        sources[crd["metadata"]["name"]] = crd
    assert set(rendered) == set(sources)
    for name, crd in rendered.items():
        metadata = crd["metadata"]
        assert metadata.pop("annotations") == {"helm.sh/resource-policy": "keep"}
        assert metadata["labels"].pop("helm.sh/chart") == "clef-pro-0.1.0"
        assert metadata["labels"].pop("app.kubernetes.io/instance") == "clef-pro"
        assert metadata["labels"].pop("app.kubernetes.io/managed-by") == "Helm"
        assert crd == sources[name], name


def test_crds_follow_enabled_and_keep(tpl: Any) -> None:
    unkept = tpl("--set", "crds.keep=false").of_kind("CustomResourceDefinition")
    assert len(unkept) == 3
    assert all("annotations" not in crd["metadata"] for crd in unkept)
    assert "CustomResourceDefinition" not in tpl("--set", "crds.enabled=false").kinds()


def test_kopf_peering_crds_ship_in_the_crds_folder(tpl: Any) -> None:
    crds = tpl("--include-crds").of_kind("CustomResourceDefinition")
    kopf = {d["metadata"]["name"]: d for d in crds if d["spec"]["group"] == "kopf.dev"}
    assert set(kopf) == {"kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"}
    for name, scope, kind in (
        ("kopfpeerings.kopf.dev", "Namespaced", "KopfPeering"),
        ("clusterkopfpeerings.kopf.dev", "Cluster", "ClusterKopfPeering"),
    ):
        spec = kopf[name]["spec"]
        assert (spec["scope"], spec["names"]["kind"]) == (scope, kind)
        (version,) = spec["versions"]
        assert (version["name"], version["served"], version["storage"]) == ("v1", True, True)
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
