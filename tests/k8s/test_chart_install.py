"""The Helm chart against the real kube-apiserver: install, RBAC as enforced, upgrade, uninstall.

The test control plane has no kubelet, scheduler or controller-manager: the API
server validates and stores every object, but no pod ever runs. Hence:

- ``helm install`` and ``helm upgrade`` run with ``--no-hooks`` and without
  ``--wait``: Helm waits for hook Jobs to complete (the migration Job never
  would), and ``--wait`` would wait for pods. The hook manifests are checked
  with a server-side dry run instead, and the database URL comes from an
  existing Secret (a chart-created one would itself be a hook).
- The ServiceAccounts' permissions are checked as the API server's authorizer
  grants them (``kubectl auth can-i --list`` impersonating them, compared with
  a ServiceAccount that has no bindings), and by running the real operator
  process with a token of the chart's operator ServiceAccount.
- Nothing garbage-collects: deleted namespaces stay Terminating.

The tests share one release and run in file order: install, checks, upgrade,
uninstall.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.chart import CHART
from tests.support.envtest import REPO_ROOT, ControlPlane
from tests.support.operator import OperatorProcess
from tests.support.postgres import free_port
from tests.support.waiting import wait_for

pytestmark = pytest.mark.k8s

EXAMPLES = REPO_ROOT / "docs" / "examples"
CLEF_KINDS = ("integrations", "policies", "notificationchannels")

#: What the operator may do in a watched namespace beyond what every
#: ServiceAccount may do, as ``kubectl auth can-i --list`` names it.
OPERATOR_IN_WATCHED = {
    **{f"{kind}.pro.clef.sh": {"get", "list", "watch", "patch"} for kind in CLEF_KINDS},
    **{f"{kind}.pro.clef.sh/status": {"get", "patch"} for kind in CLEF_KINDS},
    "integrations.pro.clef.sh/finalizers": {"update"},
    "secrets": {"get", "create", "patch", "delete"},
    "events": {"create"},
    "kopfpeerings.kopf.dev": {"get", "list", "watch", "patch"},
    "namespaces": {"list", "watch"},
    "customresourcedefinitions.apiextensions.k8s.io": {"list", "watch"},
}
#: ... and anywhere else: only Kopf's cluster-wide reads.
OPERATOR_ELSEWHERE = {
    "namespaces": {"list", "watch"},
    "customresourcedefinitions.apiextensions.k8s.io": {"list", "watch"},
}
SERVICE_ANYWHERE = {
    "tokenreviews.authentication.k8s.io": {"create"},
    "subjectaccessreviews.authorization.k8s.io": {"create"},
}


@dataclass
class Release:
    plane: ControlPlane
    name: str
    namespace: str
    #: A second watched namespace, and one the operator must stay out of.
    team: str
    other: str
    #: Added to the watched namespaces by the upgrade test.
    later: str
    tmp: Path
    notes: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def operator_account(self) -> str:
        return f"{self.namespace}:{self.name}-operator"

    @property
    def api_account(self) -> str:
        return f"{self.namespace}:{self.name}"

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.plane.helm(*args, check=check)

    def values_file(self, values: dict[str, Any]) -> str:
        path = self.tmp / f"values-{uuid.uuid4().hex[:6]}.yaml"
        path.write_text(yaml.safe_dump(values))
        return str(path)

    def json(self, *args: str) -> Any:
        return self.plane.kubectl_json(*args)


def create_namespace(plane: ControlPlane, name: str) -> None:
    plane.kubectl("create", "namespace", name)
    plane.kubectl("label", "namespace", name, "clef-pro.test/envtest=true")
    # The ServiceAccount controller's job (there is no controller-manager).
    plane.kubectl("create", "serviceaccount", "default", "--namespace", name)


def adopt_existing_crds(plane: ControlPlane, release: str, namespace: str) -> None:
    """Let the release take over CRDs applied earlier with kubectl (other tests do).

    Helm refuses to install over objects it does not own; this is the adoption
    Helm documents, and what the README tells users with kubectl-applied CRDs.
    """
    for path in sorted((REPO_ROOT / "crds").glob("*.yaml")):
        name = yaml.safe_load(path.read_text())["metadata"]["name"]
        if plane.kubectl("get", "crd", name, check=False).returncode != 0:
            continue
        plane.kubectl("label", "crd", name, "app.kubernetes.io/managed-by=Helm", "--overwrite")
        plane.kubectl(
            "annotate",
            "crd",
            name,
            f"meta.helm.sh/release-name={release}",
            f"meta.helm.sh/release-namespace={namespace}",
            "--overwrite",
        )


@pytest.fixture(scope="module")
def release(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Release]:
    suffix = uuid.uuid4().hex[:6]
    the = Release(
        plane=control_plane,
        name=f"clef-pro-{suffix}",
        namespace=f"chart-{suffix}",
        team=f"chart-team-{suffix}",
        other=f"chart-other-{suffix}",
        later=f"chart-later-{suffix}",
        tmp=tmp_path_factory.mktemp("chart"),
    )
    for namespace in (the.namespace, the.team, the.other, the.later):
        create_namespace(control_plane, namespace)
    control_plane.kubectl(
        "create",
        "secret",
        "generic",
        "clef-db",
        "-n",
        the.namespace,
        "--from-literal=url=postgresql+psycopg://clef:pw@postgres.example:5432/clef",
    )
    control_plane.kubectl(
        "create", "secret", "generic", "clef-smtp", "-n", the.namespace, "--from-literal=pw=x"
    )
    the.values = {
        "database": {"existingSecret": "clef-db", "existingSecretKey": "url"},
        "smtp": {
            "host": "smtp.example.com",
            "username": "clef-pro",
            "existingSecret": "clef-smtp",
            "existingSecretKey": "pw",
        },
        "operator": {"watchNamespaces": [the.namespace, the.team]},
        "api": {
            "ingress": {"enabled": True, "host": "clef-pro.example.com", "tls": {"enabled": True}},
            "autoscaling": {"enabled": True},
        },
    }
    adopt_existing_crds(control_plane, the.name, the.namespace)
    installed = the.helm(
        "install",
        the.name,
        str(CHART),
        "--namespace",
        the.namespace,
        "--no-hooks",
        "--values",
        the.values_file(the.values),
    )
    the.notes = installed.stdout
    try:
        yield the
    finally:
        the.helm("uninstall", the.name, "--namespace", the.namespace, check=False)
        for namespace in (the.namespace, the.team, the.other, the.later):
            control_plane.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def names(release: Release, kind: str, namespace: str | None = None) -> set[str]:
    args = ["get", kind, "-n", namespace] if namespace else ["get", kind]
    selector = f"app.kubernetes.io/instance={release.name}"
    return {item["metadata"]["name"] for item in release.json(*args, "-l", selector)["items"]}


# ------------------------------------------------------------------ install


def test_install_is_accepted_with_every_object(release: Release) -> None:
    status = json.loads(
        release.helm("status", release.name, "-n", release.namespace, "-o", "json").stdout
    )
    assert status["info"]["status"] == "deployed"
    ns, name = release.namespace, release.name
    assert names(release, "deployments", ns) == {name, f"{name}-operator"}
    assert names(release, "services", ns) == {name}
    assert names(release, "serviceaccounts", ns) == {name, f"{name}-operator"}
    assert names(release, "poddisruptionbudgets", ns) == {name}
    assert names(release, "horizontalpodautoscalers", ns) == {name}
    assert names(release, "ingresses", ns) == {name}
    assert names(release, "secrets", ns) == {f"{name}-admin-token"}
    assert names(release, "clusterroles") == {f"{name}-api", f"{name}-operator"}
    assert names(release, "clusterrolebindings") == {f"{name}-api", f"{name}-operator"}
    for namespace in (ns, release.team):
        assert names(release, "roles", namespace) == {f"{name}-operator"}
        assert names(release, "rolebindings", namespace) == {f"{name}-operator"}
        assert names(release, "kopfpeerings.kopf.dev", namespace) == {name}
    assert names(release, "roles", release.other) == set()
    for kind in CLEF_KINDS:
        crd = release.json("get", "crd", f"{kind}.pro.clef.sh")
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["metadata"]["annotations"]["meta.helm.sh/release-name"] == name
        established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert established["Established"] == "True"
    for crd in ("kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        release.plane.kubectl("get", "crd", crd)
    # NOTES: where the dashboard is, and how to make a first Integration.
    assert f"port-forward svc/{name} 8000:8000" not in release.notes  # an Ingress is on
    assert "https://clef-pro.example.com/" in release.notes
    assert f"kubectl -n {ns} get secret {name}-admin-token" in release.notes
    assert f"kubectl -n {ns} apply -f docs/examples/" in release.notes
    assert "kind: Integration" in release.notes


def test_hook_manifests_pass_server_side_validation(release: Release) -> None:
    """The hooks skipped by --no-hooks: the migration Job, and the database
    Secret a plain database.url creates."""
    values = {**release.values, "database": {"url": "postgresql+psycopg://a:b@db:5432/clef"}}
    rendered = release.helm(
        "template",
        release.name,
        str(CHART),
        "--namespace",
        release.namespace,
        "--values",
        release.values_file(values),
        "--show-only",
        "templates/migrations-job.yaml",
        "--show-only",
        "templates/secrets.yaml",
    ).stdout
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(rendered) if doc)
    assert kinds == ["Job", "Secret", "Secret"]  # + the generated admin token
    release.plane.kubectl(
        "apply", "--dry-run=server", "-n", release.namespace, "-f", "-", input=rendered
    )


# ------------------------------------------------------------------ RBAC as enforced


def permissions(release: Release, account: str, namespace: str) -> dict[str, set[str]]:
    """{resource: verbs} the API server grants ``account`` in ``namespace``."""
    table = release.plane.kubectl(
        "auth", "can-i", "--list", "-n", namespace, f"--as=system:serviceaccount:{account}"
    ).stdout
    found: dict[str, set[str]] = {}
    for line in table.splitlines()[1:]:
        columns = line.split()
        if not columns or columns[0].startswith("["):  # non-resource URLs
            continue
        verbs = line[line.rindex("[") + 1 : line.rindex("]")].split()
        found.setdefault(columns[0], set()).update(verbs)
    return found


def granted(release: Release, account: str, namespace: str) -> dict[str, set[str]]:
    """What ``account`` may do in ``namespace`` beyond any ServiceAccount."""
    baseline = permissions(release, f"{release.namespace}:default", namespace)
    extra = {
        resource: verbs - baseline.get(resource, set())
        for resource, verbs in permissions(release, account, namespace).items()
    }
    return {resource: verbs for resource, verbs in extra.items() if verbs}


def test_the_operator_may_do_its_work_in_watched_namespaces_only(release: Release) -> None:
    account = release.operator_account
    assert granted(release, account, release.namespace) == OPERATOR_IN_WATCHED
    assert granted(release, account, release.team) == OPERATOR_IN_WATCHED
    assert granted(release, account, release.other) == OPERATOR_ELSEWHERE
    assert granted(release, account, release.later) == OPERATOR_ELSEWHERE


def can(release: Release, account: str, *args: str) -> bool:
    result = release.plane.kubectl(
        "auth", "can-i", *args, f"--as=system:serviceaccount:{account}", check=False
    )
    return result.stdout.strip() == "yes"


def test_the_operator_is_refused_secrets_where_it_does_not_watch(release: Release) -> None:
    account = release.operator_account
    for verb in ("get", "list", "create", "patch", "delete"):
        assert not can(release, account, verb, "secrets", "-n", release.other), verb
    # Not even in its own namespaces may it list every Secret.
    assert not can(release, account, "list", "secrets", "-n", release.team)
    assert not can(release, account, "get", "secrets", "--all-namespaces")
    # A real request, as the operator makes it (server-side apply of a Secret).
    secret = yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "probe-clef-pro"},
            "stringData": {"ci": "x"},
        }
    )
    as_operator = [
        "apply",
        "--server-side",
        "--field-manager=clef-pro-operator",
        f"--as=system:serviceaccount:{account}",
        "-f",
        "-",
    ]
    release.plane.kubectl("-n", release.team, *as_operator, input=secret)
    refused = release.plane.kubectl("-n", release.other, *as_operator, input=secret, check=False)
    assert refused.returncode != 0
    assert "forbidden" in refused.stderr.lower()


def token_kubeconfig(release: Release, account: str, audience: str | None = None) -> Path:
    """A kubeconfig that authenticates with a fresh token of ``account``."""
    namespace, name = account.split(":")
    args = ["create", "token", name, "-n", namespace, "--duration", "1h"]
    if audience:
        args += ["--audience", audience]
    token = release.plane.kubectl(*args).stdout.strip()
    path = release.tmp / f"{name}-{uuid.uuid4().hex[:6]}.kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "envtest",
                        "cluster": {
                            "server": release.plane.server,
                            "certificate-authority": str(release.plane.pki_dir / "ca.crt"),
                        },
                    }
                ],
                "users": [{"name": name, "user": {"token": token}}],
                "contexts": [{"name": "envtest", "context": {"cluster": "envtest", "user": name}}],
                "current-context": "envtest",
            }
        )
    )
    return path


def test_the_service_may_review_tokens_and_nothing_else(release: Release) -> None:
    for namespace in (release.namespace, release.other):
        assert granted(release, release.api_account, namespace) == SERVICE_ANYWHERE
    # What the service does with it: verify the operator's audience-bound token.
    operator_token = release.plane.kubectl(
        "create",
        "token",
        f"{release.name}-operator",
        "-n",
        release.namespace,
        "--audience",
        "clef-pro",
        "--duration",
        "1h",
    ).stdout.strip()
    review = yaml.safe_dump(
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": operator_token, "audiences": ["clef-pro"]},
        }
    )
    as_service = token_kubeconfig(release, release.api_account)
    # --validate=false: kubectl's own schema check would list CRDs first.
    result = release.plane.run(
        "kubectl",
        f"--kubeconfig={as_service}",
        "create",
        "--validate=false",
        "-o",
        "json",
        "-f",
        "-",
        input=review,
    )
    status = json.loads(result.stdout)["status"]
    assert status["authenticated"] is True
    assert status["audiences"] == ["clef-pro"]
    assert status["user"]["username"] == f"system:serviceaccount:{release.operator_account}"


def start_operator_as(release: Release, kubeconfig: Path, log: Path) -> OperatorProcess:
    """``clef-pro operator`` as the chart's Deployment runs it, with its token."""
    port = free_port()
    liveness = f"http://127.0.0.1:{port}/healthz"
    service_token = release.tmp / "service-token"
    service_token.write_text(
        release.plane.kubectl(
            "create",
            "token",
            f"{release.name}-operator",
            "-n",
            release.namespace,
            "--audience",
            "clef-pro",
            "--duration",
            "1h",
        ).stdout.strip()
    )
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    env = {
        **inherited,
        "KUBECONFIG": str(kubeconfig),
        # No service here: syncing reports it unreachable, after writing the Secret.
        "CLEF_PRO_OPERATOR_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
        "CLEF_PRO_OPERATOR_SERVICE_TOKEN_FILE": str(service_token),
        "CLEF_PRO_OPERATOR_HEARTBEAT_INTERVAL_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "clef_pro", "operator"]
    for namespace in release.values["operator"]["watchNamespaces"]:
        argv += ["--namespace", namespace]
    argv += ["--peering", release.name, "--liveness", liveness]
    with log.open("ab") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=subprocess.STDOUT)
    operator = OperatorProcess(process, log, liveness)

    def live() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the operator exited:\n{log.read_text()}")
        try:
            return httpx.get(liveness, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(live, timeout=60, what="the operator's liveness probe")
    except BaseException:
        operator.stop(kill=True)
        raise
    return operator


def test_the_real_operator_works_with_the_charts_service_account(release: Release) -> None:
    """The operator process, with the chart's RBAC and peering objects, reconciles."""
    log = release.tmp / "operator.log"
    operator = start_operator_as(release, token_kubeconfig(release, release.operator_account), log)
    try:
        release.plane.kubectl("apply", "-n", release.team, "-f", str(EXAMPLES))

        def api_key() -> str | None:
            got = release.plane.kubectl(
                "get",
                "secret",
                "payments-api-clef-pro",
                "-n",
                release.team,
                "-o",
                "json",
                check=False,
            )
            if got.returncode != 0:
                return None
            data = json.loads(got.stdout).get("data") or {}
            return base64.b64decode(data["ci"]).decode() if "ci" in data else None

        assert wait_for(api_key, what="the API-key Secret").startswith("clefpro_")

        def status() -> dict[str, Any] | None:
            body = release.json("get", "integration", "payments-api", "-n", release.team)
            found: dict[str, Any] = body.get("status") or {}
            return found if found.get("conditions") else None

        found = wait_for(status, what="the Integration's status")
        assert found["integrationId"] == f"{release.team}.payments-api"
        wait_for(
            lambda: (
                release.json("get", "policy", "baseline", "-n", release.team)
                .get("status", {})
                .get("rules")
                == 3
            ),
            what="the Policy's status",
        )
        wait_for(
            lambda: [
                event
                for event in release.json("get", "events", "-n", release.team)["items"]
                if event["reason"] == "ServiceUnreachable"
            ],
            what="an Event about the unreachable service",
        )
        peering = release.json("get", "kopfpeering", release.name, "-n", release.team)
        assert peering.get("status"), "the operator never announced itself in the peering"
    finally:
        operator.stop()
    # Kopf logs every refused request (and retries it); there must be none.
    assert "forbidden" not in log.read_text().lower(), log.read_text()


# ------------------------------------------------------------------ upgrade, uninstall


def test_upgrade_with_changed_values(release: Release) -> None:
    ns, name = release.namespace, release.name
    token_before = release.json("get", "secret", f"{name}-admin-token", "-n", ns)["data"]
    values = {
        **release.values,
        "smtp": {**release.values["smtp"], "host": "mail.example.org", "port": 587},
        "operator": {"watchNamespaces": [ns, release.team, release.later], "verbose": True},
        "api": {"replicaCount": 3, "logLevel": "debug"},
    }
    release.helm(
        "upgrade",
        name,
        str(CHART),
        "--namespace",
        ns,
        "--no-hooks",
        "--values",
        release.values_file(values),
    )
    status = json.loads(release.helm("status", name, "-n", ns, "-o", "json").stdout)
    assert (status["version"], status["info"]["status"]) == (2, "deployed")
    api = release.json("get", "deployment", name, "-n", ns)
    assert api["spec"]["replicas"] == 3  # the HPA is gone with its value
    assert names(release, "horizontalpodautoscalers", ns) == set()
    assert names(release, "ingresses", ns) == set()
    env = {
        e["name"]: e.get("value") for e in api["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert (env["CLEF_PRO_SMTP_HOST"], env["CLEF_PRO_SMTP_PORT"]) == ("mail.example.org", "587")
    assert env["CLEF_PRO_LOG_LEVEL"] == "debug"
    operator = release.json("get", "deployment", f"{name}-operator", "-n", ns)
    args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args.count("--namespace") == 3
    assert release.later in args
    assert "--verbose" in args
    assert names(release, "roles", release.later) == {f"{name}-operator"}
    assert names(release, "kopfpeerings.kopf.dev", release.later) == {name}
    assert granted(release, release.operator_account, release.later) == OPERATOR_IN_WATCHED
    # The generated admin token survives upgrades.
    assert release.json("get", "secret", f"{name}-admin-token", "-n", ns)["data"] == token_before


def test_uninstall_keeps_the_crds(release: Release) -> None:
    ns, name = release.namespace, release.name
    release.helm("uninstall", name, "--namespace", ns)
    for kind in CLEF_KINDS:
        crd = release.json("get", "crd", f"{kind}.pro.clef.sh")
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for crd in ("kopfpeerings.kopf.dev", "clusterkopfpeerings.kopf.dev"):
        release.plane.kubectl("get", "crd", crd)
    # The resources users created survive too.
    assert release.json("get", "integration", "payments-api", "-n", release.team)
    # Everything else is gone.
    assert names(release, "deployments", ns) == set()
    assert names(release, "clusterroles") == set()
    assert names(release, "roles", release.team) == set()
    assert names(release, "kopfpeerings.kopf.dev", release.team) == set()
    assert names(release, "secrets", ns) == set()
