"""An OpenTelemetry Collector's ``otlphttp`` exporter pointed at Clef Pro: a
real Collector (built by hack/otelcol.sh) in front of ``clef-pro serve`` on
Postgres, forwarding the contract's example pushes in JSON and in protobuf,
gzip-compressed, with the integration key in its configured headers.

The Collector decodes each push and encodes it again, its own way; what Clef
Pro makes of the forwarded pushes (reports, alerts, checkpoint, lint and drift
results) must be exactly what it makes of the same pushes sent directly."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_otlp import NEVER_STORED, NOW_NS, SECOND_NS, timed
from tests.support.contract import example
from tests.support.database import every_stored_text
from tests.support.otelcol import running_collector
from tests.support.otlp import attribute
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient, key_headers

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.otelcol]

#: Attributes off the contract's list, added to the examples' own forbidden
#: ones (``clef.file``, ``clef.key``, ``clef.fixCommand``).
UNLISTED = {
    "clef.secretValue": "sk_live_51HxYzQ2eZvKYlo2C0a1b2c3d4e5f6g7h8i9j0",
    "deployment.vault.path": "/srv/vault/prod/payments.enc.yaml",
}

#: The pushes of one CI history, oldest first: a backfilled commit on a
#: detached HEAD, then HEAD itself, then a lint and a drift run.
PUSHES: list[tuple[str, int]] = [
    ("report-push-backfilled-detached", NOW_NS - 60 * SECOND_NS),
    ("report-push", NOW_NS),
    ("lint-push", NOW_NS),
    ("drift-push", NOW_NS),
]

#: Fields that differ between two integrations given the same pushes: their
#: identities and the server's own clock.
VOLATILE = {"id", "reportId", "integrationId", "receivedAt", "openedAt", "updatedAt"}


def push_body(name: str, time_ns: int) -> dict[str, Any]:
    body = timed(example(f"otlp/{name}.json"), time_ns)
    for resource_logs in body["resourceLogs"]:
        resource_logs["resource"]["attributes"].append(
            attribute("deployment.vault.path", UNLISTED["deployment.vault.path"])
        )
        for scope_logs in resource_logs["scopeLogs"]:
            for record in scope_logs["logRecords"]:
                record["attributes"].append(
                    attribute("clef.secretValue", UNLISTED["clef.secretValue"])
                )
    return body


def normalised(node: Any, integration_id: str) -> Any:
    if isinstance(node, dict):
        return {
            key: normalised(value, integration_id)
            for key, value in node.items()
            if key not in VOLATILE
        }
    if isinstance(node, list):
        return [normalised(value, integration_id) for value in node]
    if isinstance(node, str):
        return node.replace(integration_id, "<integration>")
    return node


def everything_read(service: ServiceClient, integration_id: str) -> dict[str, Any]:
    """What a user sees of an integration: its checkpoint, history, alerts and results."""
    base = f"/api/v1/integrations/{integration_id}"
    read: dict[str, Any] = {
        path: service.read(base + path)
        for path in ("", "/reports", "/matrix", "/lint-results", "/drift-results")
    }
    read["alerts"] = service.alerts(integration_id)
    shown: dict[str, Any] = normalised(read, integration_id)
    return shown


def checkpoint(service: ServiceClient, key: str) -> tuple[int, Any]:
    response = service.http.get("/v1/checkpoint", headers=key_headers(key))
    return response.status_code, response.json()


@pytest.fixture
def server(start_service: Callable[..., ServerProcess]) -> ServerProcess:
    return start_service()


@pytest.mark.parametrize("encoding", ["json", "proto"])
def test_pushes_through_a_collector_are_taken_exactly_as_sent_directly(
    server: ServerProcess, tmp_path: Path, encoding: str
) -> None:
    with server.client() as http:
        service = ServiceClient(http)
        (direct_key,) = service.put_integration("direct")
        (collected_key,) = service.put_integration("collected")
        with (
            running_collector(
                tmp_path / "otelcol",
                clef_pro_url=server.url,
                key=collected_key,
                encoding=encoding,
            ) as collector,
            httpx.Client(timeout=30) as client,
        ):
            for name, time_ns in PUSHES:
                body = push_body(name, time_ns)
                direct = http.post("/v1/logs", json=body, headers=key_headers(direct_key))
                assert direct.status_code == 200, direct.text
                # The client talks to the Collector and holds no Clef Pro key.
                forwarded = client.post(f"{collector.url}/v1/logs", json=body)
                assert forwarded.status_code == 200, forwarded.text + collector.log.read_text()
                assert checkpoint(service, collected_key) == checkpoint(service, direct_key)

        status, latest = checkpoint(service, collected_key)
        assert status == 200
        assert latest["lastCommitSha"] == "9f1c2a7be0d4c3a18e55f0b2c7d9a6e4f1b3c5d7"
        collected = everything_read(service, "collected")
        assert collected == everything_read(service, "direct")
        assert [item["commitSha"] for item in collected["/reports"]["items"]] == [
            "9f1c2a7be0d4c3a18e55f0b2c7d9a6e4f1b3c5d7",
            "3b7e9d1f5a2c4e6081a3b5c7d9e1f2a4b6c8d0e1",
        ]
        assert sorted((a["ruleId"], a["status"]) for a in collected["alerts"]) == [
            ("matrix/error", "open"),
            ("schema/error", "open"),
        ]
        assert collected["/lint-results"]["items"][0]["errorCount"] == 1
        assert collected["/drift-results"]["items"][0]["issueCount"] == 1


def test_a_collector_forwards_no_forbidden_attribute_into_the_database(
    server: ServerProcess, tmp_path: Path
) -> None:
    with server.client() as http:
        service = ServiceClient(http)
        (key,) = service.put_integration("collected")
        for encoding in ("json", "proto"):
            with (
                running_collector(
                    tmp_path / encoding, clef_pro_url=server.url, key=key, encoding=encoding
                ) as collector,
                httpx.Client(timeout=30) as client,
            ):
                for name, time_ns in PUSHES:
                    forwarded = client.post(
                        f"{collector.url}/v1/logs", json=push_body(name, time_ns)
                    )
                    assert forwarded.status_code == 200, forwarded.text
        assert service.read("/api/v1/integrations/collected/lint-results")["items"]

    stored = every_stored_text(server.env["CLEF_PRO_DATABASE_URL"])
    text = "\n".join(stored)
    assert "9f1c2a7be0d4c3a18e55f0b2c7d9a6e4f1b3c5d7" in text  # the search sees the data
    for value in [*NEVER_STORED, *UNLISTED.values(), *UNLISTED]:
        assert value not in text, value
    assert json.dumps(sorted(UNLISTED)) not in text
