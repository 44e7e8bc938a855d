"""The CRDs refuse bad input at `kubectl apply`, with messages people can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.envtest import ControlPlane

pytestmark = pytest.mark.k8s

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def crds(clef_crds: ControlPlane) -> ControlPlane:
    return clef_crds


def refused(plane: ControlPlane, namespace: str, manifest: str) -> str:
    result = plane.kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert result.returncode != 0, f"accepted:\n{manifest}"
    return result.stderr


def test_the_examples_apply_cleanly(crds: ControlPlane, k8s_namespace: str) -> None:
    crds.kubectl("apply", "-n", k8s_namespace, "-f", str(REPO / "docs" / "examples"))
    names = crds.kubectl("get", "clef", "-n", k8s_namespace, "-o", "name").stdout.split()
    assert sorted(names) == [
        "integration.pro.clef.sh/payments-api",
        "notificationchannel.pro.clef.sh/alertmanager",
        "notificationchannel.pro.clef.sh/chatops",
        "notificationchannel.pro.clef.sh/dev-leads",
        "notificationchannel.pro.clef.sh/security-oncall",
        "notificationchannel.pro.clef.sh/security-slack",
        "notificationchannel.pro.clef.sh/security-team",
        "policy.pro.clef.sh/baseline",
    ]


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - {id: age, displayName: Age, type: rotationMaxAge}
""",
            "a rotationMaxAge rule sets `rotationMaxAge`",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - {id: age, displayName: Age, type: rotationMaxAge, rotationMaxAge: {maxAgeDays: 0}}
""",
            "spec.rules[0].rotationMaxAge.maxAgeDays",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - {id: x, displayName: X, type: missingKeys, missingKeys: {}, severity: error}
""",
            'Unsupported value: "error"',
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec: {type: email, minSeverity: urgent, email: {to: [a@b.example]}}
""",
            "spec.minSeverity",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec: {type: email, email: {to: [not-an-address]}}
""",
            "spec.email.to[0]",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec: {type: webhook, email: {to: [a@b.example]}}
""",
            "a webhook channel sets `webhook`",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec: {type: slack, teams: {urlSecretRef: {name: s, key: url}}}
""",
            "a slack channel sets `slack`",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec:
  type: alertmanager
  alertmanager: {urlSecretRef: {name: s, key: url}}
  repeatInterval: 4h
""",
            "an alertmanager channel has no repeatInterval",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec:
  type: pagerduty
  pagerduty: {routingKeySecretRef: {name: s, key: k}, url: "http://events.example/v2"}
""",
            "spec.pagerduty.url",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: NotificationChannel
metadata: {name: c}
spec: {type: teams, teams: {urlSecretRef: {name: s, key: url}}, repeatInterval: 1d}
""",
            "spec.repeatInterval",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: i}
spec: {displayName: I, expectReportsEvery: 1d}
""",
            "spec.expectReportsEvery",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: i}
spec: {displayName: I, integrationId: "bad id!"}
""",
            "spec.integrationId",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: i}
spec: {displayName: I, apiKeys: [{name: CI_KEY}]}
""",
            "spec.apiKeys[0].name",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: i}
spec:
  displayName: I
  policySelector: {matchExpressions: [{key: tier, operator: In}]}
""",
            "In and NotIn need values",
        ),
        (
            """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: i}
spec: {displayName: I, keyRotation: {gracePeriod: 1d}}
""",
            "spec.keyRotation.gracePeriod",
        ),
    ],
    ids=[
        "rule-without-parameters",
        "max-age-out-of-bounds",
        "cli-severity-word",
        "unknown-min-severity",
        "bad-email",
        "channel-type-mismatch",
        "slack-channel-with-teams-target",
        "alertmanager-with-repeat-interval",
        "pagerduty-over-plain-http",
        "repeat-interval-in-days",
        "expect-reports-in-days",
        "bad-integration-id",
        "bad-key-name",
        "in-without-values",
        "day-duration",
    ],
)
def test_bad_resources_are_refused_with_their_validation_message(
    crds: ControlPlane, k8s_namespace: str, manifest: str, message: str
) -> None:
    assert message in refused(crds, k8s_namespace, manifest)


def test_an_integration_id_cannot_change_or_be_removed(
    crds: ControlPlane, k8s_namespace: str
) -> None:
    crds.kubectl(
        "apply",
        "-n",
        k8s_namespace,
        "-f",
        "-",
        input="""
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: fixed}
spec: {displayName: Fixed, integrationId: payments-1}
""",
    )
    changed = refused(
        crds,
        k8s_namespace,
        """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: fixed}
spec: {displayName: Fixed, integrationId: payments-2}
""",
    )
    assert "integrationId is immutable" in changed
    removed = refused(
        crds,
        k8s_namespace,
        """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: fixed}
spec: {displayName: Fixed}
""",
    )
    assert "integrationId cannot be added or removed" in removed


def test_unknown_fields_are_refused_by_kubectl(crds: ControlPlane, k8s_namespace: str) -> None:
    stderr = refused(
        crds,
        k8s_namespace,
        """
apiVersion: pro.clef.sh/v1alpha1
kind: Integration
metadata: {name: typo}
spec: {displayName: T, polcySelector: {}}
""",
    )
    assert "polcySelector" in stderr
