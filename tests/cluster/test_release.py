"""Clef Pro on a real node: a platform team's first ``helm install``, then its life.

The release is the one ``hack/cluster.sh install`` made by following the
README's kind walkthrough (``hack/kind.sh install``): the image built from the
Dockerfile, a development PostgreSQL, the chart with the operator watching
``payments`` and ``docs/examples/`` applied there. These tests then use it the
way its users do, in order: CI jobs in the cluster submit reports, mail
reaches a real SMTP server on the host side of the node's veth pair, people
sign in to the dashboard with Kubernetes tokens, and the release is upgraded
under load and uninstalled.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from clef_pro_api.dashboard.security import SESSION_COOKIE
from tests.support.cluster import NAMESPACE, RELEASE, TEAM_NAMESPACE, Cluster
from tests.support.envtest import REPO_ROOT
from tests.support.smtp import SmtpServer
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(1800)]

EXAMPLES = REPO_ROOT / "docs" / "examples"
EXAMPLE_REPORT = REPO_ROOT / "api" / "clef_pro_api" / "demo" / "example-report.json"
INTEGRATION = "payments-api"
INTEGRATION_ID = f"{TEAM_NAMESPACE}.{INTEGRATION}"
SERVICE_URL = f"http://{RELEASE}.{NAMESPACE}.svc:8000"


def report(commit: str | None = None) -> dict[str, Any]:
    """The example report as a new commit made now."""
    body: dict[str, Any] = json.loads(EXAMPLE_REPORT.read_text())
    body["commitSha"] = commit or uuid.uuid4().hex + uuid.uuid4().hex[:8]
    body["commitTimestamp"] = int(time.time() * 1000)
    return body


def pods(cluster: Cluster, component: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.kubectl_json(
        "-n",
        NAMESPACE,
        "get",
        "pods",
        "-l",
        f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component={component}",
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
    return conditions.get("Ready") == "True"


def integration(cluster: Cluster) -> dict[str, Any]:
    found: dict[str, Any] = cluster.kubectl_json(
        "-n", TEAM_NAMESPACE, "get", "integration", INTEGRATION
    )
    return found


def ci_job(cluster: Cluster, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A CI job in the team's namespace: the Integration's Secret mounted as the
    README says (the key as an environment variable), the report posted to the
    Service by its DNS name. The project image provides the Python it runs."""
    image = cluster.kubectl_json("-n", NAMESPACE, "get", "deployment", RELEASE)["spec"]["template"][
        "spec"
    ]["containers"][0]["image"]
    script = (
        "import json, os, urllib.request\n"
        "request = urllib.request.Request(\n"
        "    os.environ['CLEF_API_URL'] + '/api/v1/reports',\n"
        "    data=os.environ['REPORT'].encode(),\n"
        "    headers={'Authorization': 'Bearer ' + os.environ['CLEF_API_TOKEN'],\n"
        "             'Content-Type': 'application/json'},\n"
        ")\n"
        "with urllib.request.urlopen(request, timeout=30) as answer:\n"
        "    print(answer.status, answer.read().decode())\n"
    )
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
                    "containers": [
                        {
                            "name": "ci",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "command": ["python", "-c", script],
                            "env": [
                                {"name": "CLEF_API_URL", "value": SERVICE_URL},
                                {
                                    "name": "CLEF_API_TOKEN",
                                    "valueFrom": {
                                        "secretKeyRef": {
                                            "name": f"{INTEGRATION}-clef-pro",
                                            "key": "ci",
                                        }
                                    },
                                },
                                {"name": "REPORT", "value": json.dumps(body)},
                            ],
                        }
                    ],
                }
            },
        },
    }
    cluster.apply(job, TEAM_NAMESPACE)
    return cluster.wait_job(TEAM_NAMESPACE, name)


@pytest.fixture(scope="module")
def reported(cluster: Cluster) -> dict[str, Any]:
    """One report submitted by an in-cluster CI job; returns what it sent."""
    body = report()
    ci_job(cluster, "ci-first-report", body)
    return body


@pytest.fixture(scope="module")
def smtp(cluster: Cluster) -> Iterator[SmtpServer]:
    """aiosmtpd on the host side of the node's veth pair, the release pointed at it.

    The same upgrade turns on the dashboard's Kubernetes sign-in.
    """
    server = SmtpServer(host=cluster.host_ip).start()
    try:
        cluster.helm(
            "upgrade",
            RELEASE,
            str(REPO_ROOT / "charts" / "clef-pro"),
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            f"smtp.host={cluster.host_ip}",
            "--set",
            f"smtp.port={server.port}",
            "--set",
            "smtp.starttls=false",
            "--set",
            "api.dashboard.auth=kubernetes",
            "--wait",
            "--timeout",
            "10m",
        )
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- the install


def test_the_migration_hook_job_completed_before_the_api_became_ready(cluster: Cluster) -> None:
    # The hook Job is deleted once it succeeds; its events remain.
    job = f"{RELEASE}-migrate"
    events = cluster.kubectl_json(
        "-n", NAMESPACE, "get", "events", "--field-selector", f"involvedObject.name={job}"
    )["items"]
    reasons = [e["reason"] for e in events if e["involvedObject"]["kind"] == "Job"]
    assert "Completed" in reasons, reasons
    assert "BackoffLimitExceeded" not in reasons
    status = cluster.helm("status", RELEASE, "-n", NAMESPACE, "-o", "json").stdout
    assert json.loads(status)["info"]["status"] == "deployed"
    # Ready means the schema is current (/readyz), which only the hook makes so.
    assert all(ready(p) for p in pods(cluster, "api"))


@pytest.mark.parametrize("component", ["api", "operator"])
def test_the_pods_are_ready_with_the_charts_security_contexts(
    cluster: Cluster, component: str
) -> None:
    found = pods(cluster, component)
    assert found
    for pod in found:
        assert ready(pod), pod["status"]
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        (container,) = spec["containers"]
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        # What the runtime made of it, seen from inside the container.
        name = pod["metadata"]["name"]
        ids = cluster.kubectl("-n", NAMESPACE, "exec", name, "--", "id", "-u").stdout
        assert ids.strip() == "10001"
        write = cluster.kubectl(
            "-n", NAMESPACE, "exec", name, "--", "touch", "/opt/clef-pro/x", check=False
        )
        assert write.returncode != 0
        assert "Read-only file system" in write.stderr
        status = cluster.kubectl(
            "-n", NAMESPACE, "exec", name, "--", "grep", "NoNewPrivs", "/proc/1/status"
        ).stdout
        assert status.split() == ["NoNewPrivs:", "1"]


def test_the_examples_give_a_ready_integration_and_its_key_secret(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-n", TEAM_NAMESPACE, "-f", str(EXAMPLES))
    cluster.kubectl(
        "-n",
        TEAM_NAMESPACE,
        "wait",
        "--for=condition=Ready",
        f"integration/{INTEGRATION}",
        "--timeout=120s",
    )
    assert integration(cluster)["status"]["integrationId"] == INTEGRATION_ID
    key = cluster.secret_value(TEAM_NAMESPACE, f"{INTEGRATION}-clef-pro", "ci")
    assert re.fullmatch(r"clefpro_[A-Za-z0-9]{38}", key), "not a Clef Pro key"


# ---------------------------------------------------------------- using it


def test_an_in_cluster_ci_job_reports_through_the_service_name(
    cluster: Cluster, reported: dict[str, Any]
) -> None:
    logs = cluster.kubectl("-n", TEAM_NAMESPACE, "logs", "job/ci-first-report").stdout
    assert logs.startswith(("201", "200")), logs

    def shown() -> str | None:
        table = cluster.kubectl("-n", TEAM_NAMESPACE, "get", "integrations").stdout
        return table if reported["commitSha"][:7] in table else None

    table = wait_for(shown, timeout=120, interval=2, what="the commit in kubectl get integrations")
    header, row = table.splitlines()[:2]
    columns = dict(zip(re.split(r"\s{2,}", header), re.split(r"\s{2,}", row), strict=False))
    assert columns["NAME"] == INTEGRATION
    assert reported["commitSha"].startswith(columns["LAST COMMIT"][:7])
    # The example report fails two rules: two open alerts.
    assert columns["OPEN ALERTS"] == "2", table


def test_a_notification_reaches_the_smtp_server_on_the_host(
    cluster: Cluster, reported: dict[str, Any], smtp: SmtpServer
) -> None:
    # The alerts of the CI job's report were queued while no SMTP host was set.
    mails = smtp.wait_for(1, timeout=120)
    recipients = {r for mail in mails for r in mail.recipients}
    assert "dev-lead@acme.example" in recipients
    mail = next(m for m in mails if "dev-lead@acme.example" in m.recipients)
    assert "Payments API" in mail.subject + mail.text
    assert reported["commitSha"][:7] in mail.text


def test_the_dashboard_signs_in_with_a_service_account_token_through_port_forward(
    cluster: Cluster, reported: dict[str, Any], smtp: SmtpServer
) -> None:
    viewer, stranger = "dashboard-viewer", "dashboard-stranger"
    for account in (viewer, stranger):
        cluster.apply(
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
            TEAM_NAMESPACE,
        )
    cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "integration-viewer"},
            "rules": [
                {
                    "apiGroups": ["pro.clef.sh"],
                    "resources": ["integrations"],
                    "verbs": ["get"],
                }
            ],
        },
        TEAM_NAMESPACE,
    )
    cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "integration-viewer"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "integration-viewer",
            },
            "subjects": [{"kind": "ServiceAccount", "name": viewer, "namespace": TEAM_NAMESPACE}],
        },
        TEAM_NAMESPACE,
    )

    @contextmanager
    def signed_in(base: str, account: str) -> Iterator[httpx.Client]:
        token = cluster.kubectl(
            "-n", TEAM_NAMESPACE, "create", "token", account, "--duration=1h"
        ).stdout.strip()
        with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as client:
            answer = client.post(
                "/sign-in", data={"token": token, "next": "/"}, headers={"Origin": base}
            )
            assert answer.status_code == 200, answer.text
            assert answer.url.path == "/", "still on the sign-in page"
            assert SESSION_COOKIE in client.cookies
            yield client

    with cluster.port_forward(NAMESPACE, f"svc/{RELEASE}", 8000) as base:
        page = httpx.get(f"{base}/sign-in", timeout=30)
        assert page.status_code == 200
        assert "token" in page.text.lower()
        with signed_in(base, viewer) as client:
            home = client.get("/")
            assert home.status_code == 200
            assert "Payments API" in home.text
        with signed_in(base, stranger) as client:
            home = client.get("/")
            assert home.status_code == 200
            assert "Payments API" not in home.text


# ---------------------------------------------------------------- its life


def test_helm_upgrade_to_a_new_image_rolls_the_api_without_a_failed_request(
    cluster: Cluster, reported: dict[str, Any]
) -> None:
    key = cluster.secret_value(TEAM_NAMESPACE, f"{INTEGRATION}-clef-pro", "ci")
    service = cluster.kubectl_json("-n", NAMESPACE, "get", "service", RELEASE)
    url = f"http://{service['spec']['clusterIP']}:8000/api/v1/reports"
    before = {p["metadata"]["name"] for p in pods(cluster, "api")}
    # A new image, as a release would bring: the same Dockerfile, another tag.
    cluster.script("image", env={"CLEF_PRO_IMAGE_TAG": "upgrade"})

    failures: list[str] = []
    accepted: list[int] = []
    stop = threading.Event()

    def submit() -> None:
        # A new connection per report, as each CI job makes one.
        while not stop.is_set():
            try:
                answer = httpx.post(
                    url, json=report(), headers={"Authorization": f"Bearer {key}"}, timeout=30
                )
            except httpx.HTTPError as error:
                failures.append(repr(error))
                continue
            if answer.status_code in (200, 201):
                accepted.append(answer.status_code)
            else:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
            time.sleep(0.05)

    client = threading.Thread(target=submit, daemon=True)
    client.start()
    try:
        wait_for(lambda: len(accepted) >= 3, timeout=60, what="reports before the upgrade")
        cluster.helm(
            "upgrade",
            RELEASE,
            str(REPO_ROOT / "charts" / "clef-pro"),
            "-n",
            NAMESPACE,
            "--reuse-values",
            "--set",
            "image.tag=upgrade",
            "--wait",
            "--timeout",
            "10m",
        )
        count = len(accepted)
        wait_for(lambda: len(accepted) >= count + 3, timeout=60, what="reports after it")
    finally:
        stop.set()
        client.join(timeout=60)
    assert not failures, failures[:5]
    after = pods(cluster, "api")
    assert after
    assert not before & {p["metadata"]["name"] for p in after}
    for pod in after:
        assert pod["spec"]["containers"][0]["image"].endswith("clef-pro:upgrade")
        assert ready(pod)


def test_helm_uninstall_removes_everything_but_the_crds(cluster: Cluster) -> None:
    cluster.helm("uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "5m")
    kinds = (
        "deployments,replicasets,pods,jobs,services,serviceaccounts,secrets,configmaps,"
        "roles,rolebindings,poddisruptionbudgets,kopfpeerings.kopf.dev"
    )
    selector = f"app.kubernetes.io/instance={RELEASE}"

    def gone() -> bool:
        left = cluster.kubectl_json("get", kinds, "-A", "-l", selector)["items"]
        return not left

    wait_for(gone, timeout=120, interval=2, what="the release's namespaced objects to go")
    cluster_wide = cluster.kubectl_json("get", "clusterroles,clusterrolebindings", "-l", selector)[
        "items"
    ]
    assert not cluster_wide, [i["metadata"]["name"] for i in cluster_wide]
    crds = {c["metadata"]["name"] for c in cluster.kubectl_json("get", "crds")["items"]}
    assert {
        "integrations.pro.clef.sh",
        "policies.pro.clef.sh",
        "notificationchannels.pro.clef.sh",
    } <= crds
    # And with them the teams' resources.
    assert integration(cluster)["metadata"]["name"] == INTEGRATION
