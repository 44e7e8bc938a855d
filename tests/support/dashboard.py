"""Data for the dashboard tests, put in through the contract API like a CLI would.

``payments`` has two reports on ``main``: an older one where only
``database/production`` is unwell (and an alert it opened), and the HEAD, the
contract's spec example, which resolves that alert and opens two others. So
the matrix, drift, history and every alert tab have something to show.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from tests.support.contract import example, failing, sha
from tests.support.service import ServiceClient

OLD_COMMIT = sha("01d")
HEAD_COMMIT = sha("4ead")
OLD_TIME = 1_763_800_000_000
HEAD_TIME = 1_763_900_500_000
PIPELINE = "https://ci.example.com/acme/payments/pipelines/4411"

#: What the HEAD's matrix shows: (namespace, environment) -> (health, description).
HEAD_CELLS = {
    ("oauth", "development"): ("healthy", "4 keys, 3 recipients, rotated 12d ago"),
    ("oauth", "production"): ("critical", "2 keys missing, 3 recipients"),
    ("api-keys", "development"): ("healthy", "7 keys, 2 recipients, rotated 3d ago"),
    ("api-keys", "production"): ("warning", "7 keys, 2 recipients, rotated 94d ago"),
    ("database", "development"): ("healthy", "3 keys, 3 recipients, rotated 30d ago"),
    ("database", "production"): ("healthy", "3 keys, 2 recipients, rotated 30d ago"),
}
#: And the older report's, where only database/production is unwell.
OLD_CELLS = {
    **dict.fromkeys(HEAD_CELLS, ("healthy", "4 keys, 3 recipients, rotated 2d ago")),
    ("database", "production"): ("warning", "3 keys, 1 recipient, rotated 20d ago"),
}
EMAIL_CHANNEL = {
    "name": "security",
    "type": "email",
    "to": ["security@acme.example"],
    "minSeverity": "warning",
}


def report(commit: str, timestamp: int, cells: dict[tuple[str, str], tuple[str, str]]) -> Any:
    body: dict[str, Any] = copy.deepcopy(example("report-spec.json"))
    body["commitSha"] = commit
    body["commitTimestamp"] = timestamp
    body["ciContext"]["pipelineUrl"] = PIPELINE
    for cell in body["summary"]["cells"]:
        cell["healthStatus"], cell["description"] = cells[(cell["namespace"], cell["environment"])]
    return body


def old_report() -> Any:
    body = report(OLD_COMMIT, OLD_TIME, OLD_CELLS)
    body["summary"]["violations"] = 1
    body["drift"] = [
        {"namespace": namespace, "isDrifted": False, "severity": "info", "summary": "No drift"}
        for namespace in body["summary"]["namespaces"]
    ]
    body["policyResults"] = [
        {
            **failing("min_recipients", "database/production", "warning"),
            "ruleName": "Minimum recipients",
            "message": "database/production has 1 recipient, fewer than 2",
        }
    ]
    return body


def head_report() -> Any:
    return report(HEAD_COMMIT, HEAD_TIME, HEAD_CELLS)


@dataclass(frozen=True)
class Seeded:
    api_key: str
    #: alert rule id -> alert id
    alerts: dict[str, str]


def seed(client: ServiceClient, *, channels: list[dict[str, Any]] | None = None) -> Seeded:
    """``payments`` with history and alerts, ``billing`` with no report yet,
    ``identity`` all healthy. Optionally ``channels`` on payments."""
    (key,) = client.put_integration(
        "payments",
        displayName="Payments API",
        repository="github.com/acme/payments",
        collection={"ciContext": True},
        channels=channels or [],
    )
    client.submit_ok(key, old_report())
    client.submit_ok(key, head_report())
    client.put_integration("billing", displayName="Billing")
    (identity_key,) = client.put_integration("identity", displayName="Identity")
    healthy = report(sha("1d"), HEAD_TIME - 5_000, dict.fromkeys(HEAD_CELLS, ("healthy", "fine")))
    healthy["policyResults"] = []
    healthy["summary"]["violations"] = 0
    healthy["summary"]["passed"] = True
    healthy["drift"] = []
    client.submit_ok(identity_key, healthy)
    alerts = {alert["ruleId"]: alert["id"] for alert in client.alerts("payments", "all")}
    return Seeded(api_key=key, alerts=alerts)
