"""The dashboard's Kubernetes sign-in, against the real kube-apiserver.

A person signs in with a Kubernetes token (TokenReview); each integration is
then authorised with a SubjectAccessReview on the Integration resource it came
from (``get`` to see it, ``update`` to acknowledge), so the RBAC that platform
teams already manage decides who sees what. The integrations are configured
through the config API with their ``source``; no operator is needed here.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.browser import launch_browser, new_context, screenshot
from tests.support.dashboard import head_report
from tests.support.envtest import ControlPlane
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient

pytestmark = [pytest.mark.k8s, pytest.mark.postgres, pytest.mark.server]


@dataclass
class Cluster:
    plane: ControlPlane
    namespace: str
    service: ServerProcess
    #: integration id -> alert ids
    alerts: dict[str, list[str]]

    def apply(self, manifest: dict[str, object]) -> None:
        self.plane.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def token(self, account: str) -> str:
        return self.plane.kubectl(
            "create", "token", account, "-n", self.namespace, "--duration", "1h"
        ).stdout.strip()

    def grant(self, account: str, verbs: list[str], names: list[str]) -> None:
        """A Role on the named Integrations, bound to ``account``."""
        role = f"{account}-integrations"
        self.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": role, "namespace": self.namespace},
                "rules": [
                    {
                        "apiGroups": ["pro.clef.sh"],
                        "resources": ["integrations"],
                        "resourceNames": names,
                        "verbs": verbs,
                    }
                ],
            }
        )
        self.apply(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role, "namespace": self.namespace},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": role,
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": account, "namespace": self.namespace}
                ],
            }
        )

    def revoke(self, account: str) -> None:
        self.plane.kubectl("delete", "rolebinding", f"{account}-integrations", "-n", self.namespace)


@pytest.fixture
def cluster(
    control_plane: ControlPlane,
    k8s_namespace: str,
    start_service: Callable[..., ServerProcess],
) -> Cluster:
    service = start_service(
        CLEF_PRO_DASHBOARD_AUTH="kubernetes",
        CLEF_PRO_KUBERNETES_AUTH="true",
        CLEF_PRO_KUBECONFIG=str(control_plane.kubeconfig),
        # Verdicts are not reused, so granting and revoking show at once.
        CLEF_PRO_ACCESS_REVIEW_CACHE_SECONDS="0",
        CLEF_PRO_TOKEN_REVIEW_CACHE_SECONDS="0",
    )
    alerts: dict[str, list[str]] = {}
    with service.client() as http:
        client = ServiceClient(http)
        for integration, name in (("team-x", "x"), ("team-y", "y")):
            (key,) = client.put_integration(
                integration,
                displayName=f"Integration {name.upper()}",
                source={"namespace": k8s_namespace, "name": name},
            )
            client.submit_ok(key, head_report())
            alerts[integration] = [alert["id"] for alert in client.alerts(integration, "open")]
        # An integration the operator did not make: no source, so no RBAC can
        # grant it, and Kubernetes users never see it.
        client.put_integration("sourceless", displayName="Integration Without Source")
    control_plane.kubectl("create", "serviceaccount", "alice", "-n", k8s_namespace)
    return Cluster(control_plane, k8s_namespace, service, alerts)


@contextmanager
def signed_in(cluster: Cluster, token: str) -> Iterator[httpx.Client]:
    with cluster.service.client() as http:
        response = http.post("/sign-in", data={"token": token, "next": "/"})
        assert response.status_code == 303, response.text
        yield http


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_a_user_sees_only_the_integrations_rbac_lets_them_get(cluster: Cluster) -> None:
    cluster.grant("alice", ["get"], ["x"])
    with signed_in(cluster, cluster.token("alice")) as http:
        overview = http.get("/")
        assert overview.status_code == 200
        assert f"system:serviceaccount:{cluster.namespace}:alice" in overview.text
        assert "Integration X" in overview.text
        assert "Integration Y" not in overview.text
        assert "Integration Without Source" not in overview.text

        assert http.get("/integrations/team-x").status_code == 200
        for hidden in (
            "/integrations/team-y",
            "/integrations/team-y/alerts",
            f"/integrations/team-y/alerts/{cluster.alerts['team-y'][0]}",
            "/integrations/sourceless",
        ):
            response = http.get(hidden)
            assert response.status_code == 404, hidden
            assert "Integration Y" not in response.text
        # The session is no credential of the JSON API.
        assert http.get("/api/v1/integrations").status_code == 401

        # Losing the RoleBinding loses the integration, without signing out.
        cluster.revoke("alice")
        assert http.get("/integrations/team-x").status_code == 404
        assert "Integration X" not in http.get("/").text


def test_acknowledging_takes_update_on_the_integration(cluster: Cluster) -> None:
    cluster.grant("alice", ["get"], ["x"])
    alert = cluster.alerts["team-x"][0]
    url = f"/integrations/team-x/alerts/{alert}/acknowledge"
    with signed_in(cluster, cluster.token("alice")) as http:
        alerts_page = http.get("/integrations/team-x/alerts")
        assert alerts_page.status_code == 200
        assert "Acknowledge…" not in alerts_page.text
        assert http.get(url).status_code == 403
        refused = http.post(url, data={"csrf": csrf_of(alerts_page.text)})
        assert refused.status_code == 403
        assert "update" in html.unescape(refused.text)

        cluster.grant("alice", ["get", "update"], ["x"])
        confirm = http.get(url)
        assert confirm.status_code == 200
        done = http.post(url, data={"csrf": csrf_of(confirm.text)})
        assert done.status_code == 303

    with cluster.service.client() as api:
        (acknowledged,) = [
            a for a in ServiceClient(api).alerts("team-x", "open") if a["id"] == alert
        ]
    assert acknowledged["acknowledged"] is True
    assert acknowledged["acknowledgedBy"] == f"system:serviceaccount:{cluster.namespace}:alice"


def test_a_token_the_cluster_does_not_accept_signs_nobody_in(cluster: Cluster) -> None:
    with cluster.service.client() as http:
        for token in ("not-a-token", cluster.token("alice")[:-4] + "AAAA"):
            response = http.post("/sign-in", data={"token": token, "next": "/"})
            assert response.status_code == 401
            assert "did not accept that token" in response.text
            assert "set-cookie" not in response.headers


@pytest.mark.browser
def test_in_a_browser_a_user_without_rbac_access_cannot_see_an_integration(
    cluster: Cluster,
) -> None:
    cluster.grant("alice", ["get"], ["x"])
    with launch_browser() as browser:
        context = new_context(browser)
        page = context.new_page()
        page.goto(f"{cluster.service.url}/integrations/team-y")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        page.get_by_label("Kubernetes token").fill(cluster.token("alice"))
        page.get_by_role("button", name="Sign in").click()
        # Signed in, the integration alice may not get is "not found".
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("Integration Y")
        page.get_by_role("link", name="Back to integrations").click()
        rows = page.locator("#integrations tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Integration X")
        screenshot(page, "kubernetes-user-overview")
        page.get_by_role("link", name="Integration X").click()
        expect(page.locator("table.matrix")).to_contain_text("2 keys missing, 3 recipients")
        context.close()
