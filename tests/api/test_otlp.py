"""Today's CLI at the OTLP door, over HTTP on a real Postgres: ``/v1/logs`` and
``/v1/checkpoint``, both encodings, gzip, the OTLP status codes, the mapping onto
reports and alerts, and the security model proven on the database itself."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from sqlalchemy import create_engine, func, select

from clef_pro.domain import apikeys
from clef_pro_api.app import create_app
from clef_pro_api.schemas import iso_utc
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from tests.support.contract import example, forbidden_examples, sha, spec_report
from tests.support.database import every_stored_text
from tests.support.otlp import gzipped, issue_record, report_push, to_protobuf
from tests.support.service import ADMIN_TOKEN, ServiceClient, key_headers

NOW_NS = time.time_ns()
SECOND_NS = 1_000_000_000
PROTOBUF = "application/x-protobuf"

#: Values of the examples that Clef Pro must never hold: paths, file names,
#: key names, fix commands and the recipient in one.
NEVER_STORED = [
    "/home/runner/work/billing/billing/secrets/invoices/staging.enc.yaml",
    "/home/runner/work/billing/billing/secrets/invoices/production.enc.yaml",
    "/home/runner/work/billing/billing/secrets/ledger/production.enc.yaml",
    "/home/runner/work/billing/billing/secrets/ledger/staging.enc.yaml",
    "/home/runner/work/billing/billing/secrets/ledger/dev.enc.yaml",
    "/home/runner",
    "secrets/invoices",
    "secrets/ledger",
    "staging.enc.yaml",
    "production.enc.yaml",
    "dev.enc.yaml",
    ".enc.yaml",
    "STRIPE_WEBHOOK_SECRET",
    "LEDGER_DSN",
    "clef recipients add",
    "age1x9v3cn0h7sdl2ut9lq6pxw8r4e5mdyj3kzf0wagh6c2ns8qt7k2qv9sx",
    "7k2qv9sx",
]


def push(
    service: ServiceClient,
    key: str,
    body: dict[str, Any] | bytes,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
    return service.http.post(
        "/v1/logs",
        content=content,
        headers={**key_headers(key), "Content-Type": content_type, **(headers or {})},
    )


def push_ok(service: ServiceClient, key: str, body: dict[str, Any] | bytes, **kwargs: Any) -> Any:
    response = push(service, key, body, **kwargs)
    assert response.status_code == 200, response.text
    return response


def checkpoint(service: ServiceClient, key: str) -> Any:
    # What the CLI sends: the configured headers and nothing else.
    return service.http.get("/v1/checkpoint", headers=key_headers(key))


def timed(body: dict[str, Any], time_ns: int) -> dict[str, Any]:
    for resource in body["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                record["timeUnixNano"] = str(time_ns)
    return body


@pytest.mark.parametrize(
    "name", ["report-push", "report-push-backfilled-detached", "lint-push", "drift-push"]
)
def test_each_otlp_example_is_taken_whole(service: ServiceClient, name: str) -> None:
    (key,) = service.put_integration("billing")
    response = push_ok(service, key, timed(example(f"otlp/{name}.json"), NOW_NS))
    assert response.json() == {}
    assert response.headers["content-type"] == "application/json"


def test_the_checkpoint_is_404_with_nulls_before_the_first_report(service: ServiceClient) -> None:
    (key,) = service.put_integration("billing")
    response = checkpoint(service, key)
    assert response.status_code == 404
    assert response.json() == {"lastCommitSha": None, "lastTimestamp": None}
    # Lint and drift pushes carry no commit: still never reported.
    push_ok(service, key, timed(example("otlp/lint-push.json"), NOW_NS))
    assert checkpoint(service, key).status_code == 404


def test_a_report_push_is_a_report_of_its_commit_with_the_clis_alerts(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("billing")
    push_ok(service, key, timed(example("otlp/report-push.json"), NOW_NS))
    response = checkpoint(service, key)
    assert response.status_code == 200
    assert response.json()["lastCommitSha"] == "9f1c2a7be0d4c3a18e55f0b2c7d9a6e4f1b3c5d7"
    assert response.json()["lastTimestamp"].endswith("Z")
    alerts = service.alerts("billing", "open")
    assert sorted((a["ruleId"], a["scope"], a["severity"]) for a in alerts) == [
        ("matrix/error", "*", "critical"),
        ("schema/error", "*", "critical"),
    ]
    matrix = service.read("/api/v1/integrations/billing/matrix")
    assert matrix["protocol"] == "otlp"
    assert matrix["cellsReported"] is False
    assert matrix["cells"] == [
        {
            "namespace": "invoices",
            "environment": "staging",
            "healthStatus": "warning",
            "description": "1 issue reported; this CLI sends no cell details",
        }
    ]


def test_both_protocols_open_the_same_alerts_for_the_same_issues(service: ServiceClient) -> None:
    (otlp_key,) = service.put_integration("today")
    (api_key,) = service.put_integration("older")
    issues = [
        ("error", "schema", "2 keys fail schema validation", "payments", "production"),
        ("warning", "drift", "1 key in [dev] missing from staging", "payments", "staging"),
        ("error", "matrix", "Missing encrypted file for ledger/production.", None, None),
    ]
    push_ok(
        service,
        otlp_key,
        report_push(
            sha("c1"),
            issues=[
                issue_record(sev, cat, msg, namespace=ns, environment=env)
                for sev, cat, msg, ns, env in issues
            ],
            time_unix_nano=NOW_NS,
        ),
    )
    # The report API's CLI form of the same issues (the client's ReportTransformer).
    results: list[dict[str, Any]] = []
    for sev, cat, msg, ns, env in issues:
        result: dict[str, Any] = {
            "ruleId": f"{cat}/{sev}",
            "ruleName": cat,
            "passed": sev != "error",
            "severity": sev,
            "message": msg,
        }
        if ns or env:
            result["scope"] = {"namespace": ns, "environment": env}
        results.append(result)
    service.submit_ok(
        api_key, spec_report(sha("c1"), timestamp=NOW_NS // 10**6, policy_results=results)
    )

    def shape(integration: str) -> list[tuple[str, str, str, str, str]]:
        return sorted(
            (a["ruleId"], a["ruleName"], a["scope"], a["severity"], a["message"])
            for a in service.alerts(integration, "open")
        )

    assert shape("today") == shape("older")
    assert len(shape("today")) == 2


def test_a_report_push_is_idempotent_per_commit(service: ServiceClient, settings: Settings) -> None:
    (key,) = service.put_integration("billing")
    body = timed(example("otlp/report-push.json"), NOW_NS)
    push_ok(service, key, body)
    alerts = service.alerts("billing")
    # The same push again, and the same commit pushed later: one report, same alerts.
    push_ok(service, key, body)
    push_ok(service, key, timed(example("otlp/report-push.json"), NOW_NS + 60 * SECOND_NS))
    assert service.alerts("billing") == alerts
    assert count(settings, models.Report) == 1
    assert count(settings, models.AlertEventRow) == 2
    assert checkpoint(service, key).json()["lastTimestamp"] == json_timestamp(NOW_NS)


def json_timestamp(time_ns: int) -> str:
    return iso_utc(time_ns // 10**6)


def count(settings: Settings, table: type[models.Base]) -> int:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(table))
    engine.dispose()
    return int(total or 0)


def test_an_otlp_gap_fill_ends_with_the_checkpoint_on_head(service: ServiceClient) -> None:
    """``clef report --push``: HEAD first ever, then later a gap pushed one
    request per commit, oldest first, the backfilled ones on a detached HEAD."""
    (key,) = service.put_integration("billing", trackedBranches=["main"])
    failing = [
        issue_record(
            "error",
            "schema",
            "1 key fails schema validation",
            namespace="payments",
            environment="production",
        )
    ]
    assert checkpoint(service, key).status_code == 404
    push_ok(service, key, report_push(sha("c1"), issues=failing, time_unix_nano=NOW_NS))
    assert checkpoint(service, key).json()["lastCommitSha"] == sha("c1")
    gap = [(sha("c2"), "", failing), (sha("c3"), "", []), (sha("c4"), "main", [])]
    for index, (commit, branch, issues) in enumerate(gap, start=1):
        push_ok(
            service,
            key,
            report_push(
                commit, issues=issues, branch=branch, time_unix_nano=NOW_NS + index * SECOND_NS
            ),
        )
        assert checkpoint(service, key).json()["lastCommitSha"] == commit
    (alert,) = service.alerts("billing")
    assert alert["status"] == "resolved"
    assert alert["introducedByCommit"] == sha("c1")
    assert alert["resolvedByCommit"] == sha("c3")
    history = service.read("/api/v1/integrations/billing/reports")["items"]
    assert [item["commitSha"] for item in history] == [sha(c) for c in ("c4", "c3", "c2", "c1")]


def test_a_report_api_gap_fill_ends_with_the_checkpoint_on_head(service: ServiceClient) -> None:
    (key,) = service.put_integration("billing", trackedBranches=["main"])
    now_ms = NOW_NS // 10**6
    assert (
        service.http.get("/api/v1/integrations/billing", headers=key_headers(key)).json()[
            "lastCommitSha"
        ]
        is None
    )
    service.submit_ok(key, spec_report(sha("c1"), timestamp=now_ms - 4000))
    gap = [
        spec_report(sha("c2"), timestamp=now_ms - 3000, branch=""),
        spec_report(sha("c3"), timestamp=now_ms - 2000, branch=""),
        spec_report(sha("c4"), timestamp=now_ms - 1000, branch="main"),
    ]
    assert service.batch(key, gap).status_code == 200
    assert service.http.get("/api/v1/integrations/billing", headers=key_headers(key)).json()[
        "lastCommitSha"
    ] == sha("c4")


def test_a_repository_that_switches_protocol_keeps_its_history_and_alerts(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("billing")
    now_ms = NOW_NS // 10**6
    scope = {"namespace": "payments", "environment": "production"}
    cli_form = {
        "ruleId": "schema/error",
        "ruleName": "schema",
        "passed": False,
        "severity": "error",
        "message": "1 key fails schema validation",
        "scope": scope,
    }
    # The old CLI: reports through the report API (commit time orders them).
    service.submit_ok(
        key,
        spec_report(
            sha("old1"),
            timestamp=now_ms - 3_600_000,
            policy_results=[cli_form],
            namespaces=["payments"],
        ),
    )
    (opened,) = service.alerts("billing", "open")
    # The team upgrades: the same issue through OTLP recurs on the same alert.
    issue = issue_record(
        "error",
        "schema",
        "1 key fails schema validation",
        namespace="payments",
        environment="production",
    )
    push_ok(service, key, report_push(sha("new1"), issues=[issue], time_unix_nano=NOW_NS))
    (still_open,) = service.alerts("billing", "open")
    assert still_open["id"] == opened["id"]
    assert still_open["lastSeenCommit"] == sha("new1")
    assert checkpoint(service, key).json()["lastCommitSha"] == sha("new1")
    # Fixed: the issue disappears from the next push and the alert resolves.
    push_ok(service, key, report_push(sha("new2"), issues=[], time_unix_nano=NOW_NS + SECOND_NS))
    (resolved,) = service.alerts("billing")
    assert resolved["id"] == opened["id"]
    assert resolved["status"] == "resolved"
    history = service.read("/api/v1/integrations/billing/reports")["items"]
    assert [item["commitSha"] for item in history] == [sha("new2"), sha("new1"), sha("old1")]
    # Both generations read the same checkpoint.
    old_checkpoint = service.http.get("/api/v1/integrations/billing", headers=key_headers(key))
    assert old_checkpoint.json()["lastCommitSha"] == sha("new2")


def test_protobuf_and_gzip_bodies_are_taken(service: ServiceClient) -> None:
    (key,) = service.put_integration("billing")
    body = timed(example("otlp/report-push.json"), NOW_NS)
    protobuf = push_ok(service, key, to_protobuf(body), content_type=PROTOBUF)
    assert protobuf.headers["content-type"] == PROTOBUF
    assert ExportLogsServiceResponse.FromString(protobuf.content) == ExportLogsServiceResponse()
    gzip_json = push_ok(
        service,
        key,
        gzipped(json.dumps(timed(example("otlp/lint-push.json"), NOW_NS)).encode()),
        headers={"Content-Encoding": "gzip"},
    )
    assert gzip_json.json() == {}
    gzip_protobuf = push_ok(
        service,
        key,
        gzipped(to_protobuf(timed(example("otlp/drift-push.json"), NOW_NS))),
        content_type=PROTOBUF,
        headers={"Content-Encoding": "gzip"},
    )
    assert gzip_protobuf.headers["content-type"] == PROTOBUF
    assert (
        checkpoint(service, key).json()["lastCommitSha"]
        == body["resourceLogs"][0]["resource"]["attributes"][3]["value"]["stringValue"]
    )
    assert service.read("/api/v1/integrations/billing/lint-results")["items"][0]["errorCount"] == 1
    assert service.read("/api/v1/integrations/billing/drift-results")["items"][0]["issueCount"] == 1


def collector_request() -> ExportLogsServiceRequest:
    """What an OpenTelemetry Collector's otlphttp exporter forwards: the CLI's
    pushes regrouped by resource, resource attributes the collector's
    processors added, scope attributes, trace context and observed times."""
    merged = ExportLogsServiceRequest()
    for index, name in enumerate(("report-push", "lint-push", "drift-push")):
        body = timed(example(f"otlp/{name}.json"), NOW_NS + index * SECOND_NS)
        part = json_format.ParseDict(body, ExportLogsServiceRequest())
        merged.resource_logs.extend(part.resource_logs)
    for resource_logs in merged.resource_logs:
        extra = resource_logs.resource.attributes.add()
        extra.key, extra.value.string_value = "host.name", "otel-collector-7d9f"
        resource_logs.schema_url = "https://opentelemetry.io/schemas/1.26.0"
        for scope_logs in resource_logs.scope_logs:
            attribute = scope_logs.scope.attributes.add()
            attribute.key, attribute.value.string_value = "otelcol.component.id", "otlp"
            for record in scope_logs.log_records:
                record.observed_time_unix_nano = NOW_NS + 5 * SECOND_NS
                record.trace_id = bytes(range(16))
                record.span_id = bytes(range(8))
                record.flags = 1
    return merged


def test_an_opentelemetry_collector_shaped_protobuf_request_is_taken(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("billing")
    response = push_ok(
        service,
        key,
        gzipped(collector_request().SerializeToString()),
        content_type=PROTOBUF,
        headers={"Content-Encoding": "gzip", "User-Agent": "OpenTelemetry Collector/0.165.0"},
    )
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    assert checkpoint(service, key).status_code == 200
    assert service.read("/api/v1/integrations/billing/lint-results")["items"]
    assert service.read("/api/v1/integrations/billing/drift-results")["items"][0]["namespaces"] == [
        {
            "namespace": "ledger",
            "keys": 1,
            "missingFrom": ["production"],
            "presentIn": ["dev", "staging"],
        }
    ]


def test_records_that_cannot_be_taken_are_counted_in_partial_success(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("billing")
    body = timed(example("otlp/report-push.json"), NOW_NS)
    records = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.append(
        {
            "timeUnixNano": str(NOW_NS),
            "attributes": [{"key": "event.name", "value": {"stringValue": "clef.agent.heartbeat"}}],
        }
    )
    response = push_ok(service, key, body)
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == 1
    assert "events Clef Pro does not take" in partial["errorMessage"]
    protobuf = push_ok(service, key, to_protobuf(body), content_type=PROTOBUF)
    answer = ExportLogsServiceResponse.FromString(protobuf.content)
    assert answer.partial_success.rejected_log_records == 1


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"resourceLogs": [', "application/json"),
        (b'{"resourceLogs": {"not": "a list"}}', "application/json"),
        (b"\xff\xff\xff\xff", PROTOBUF),
    ],
)
def test_a_body_that_is_not_an_otlp_request_is_400(
    service: ServiceClient, content: bytes, content_type: str
) -> None:
    (key,) = service.put_integration("billing")
    response = push(service, key, content, content_type=content_type)
    assert response.status_code == 400
    assert response.headers["content-type"] == content_type


def test_a_wrong_or_missing_key_is_401_and_x_api_key_works(service: ServiceClient) -> None:
    (key,) = service.put_integration("billing")
    body = timed(example("otlp/lint-push.json"), NOW_NS)
    for headers in ({}, key_headers(apikeys.generate_api_key()), {"Authorization": "Bearer x"}):
        response = service.http.post("/v1/logs", json=body, headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == 16
        assert service.http.get("/v1/checkpoint", headers=headers).status_code == 401
    assert service.http.post("/v1/logs", json=body, headers={"x-api-key": key}).status_code == 200
    assert service.http.get("/v1/checkpoint", headers={"x-api-key": key}).status_code == 404


def test_a_wrong_content_type_or_encoding_is_415(service: ServiceClient) -> None:
    (key,) = service.put_integration("billing")
    assert push(service, key, b"{}", content_type="text/plain").status_code == 415
    response = push(service, key, b"{}", headers={"Content-Encoding": "br"})
    assert response.status_code == 415


def test_oversized_bodies_are_413_compressed_or_not(tmp_path: Path, database_url: str) -> None:
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path,
        auto_migrate=False,
        max_otlp_bytes=64 * 1024,
    )
    with TestClient(create_app(settings)) as http:
        service = ServiceClient(http)
        (key,) = service.put_integration("billing")
        body = report_push(sha("big"), issues=[issue_record("info", "sops", "x" * 900)] * 100)
        raw = json.dumps(body).encode()
        assert len(raw) > 64 * 1024
        assert push(service, key, raw).status_code == 413
        # A gzip bomb: small on the wire, too large once inflated.
        bomb = gzipped(raw)
        assert len(bomb) < 64 * 1024
        response = push(service, key, bomb, headers={"Content-Encoding": "gzip"})
        assert response.status_code == 413


def test_pushes_past_the_integrations_rate_are_429_with_retry_after(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path,
        auto_migrate=False,
        otlp_rate_per_second=0.01,
        otlp_burst=2,
    )
    with TestClient(create_app(settings)) as http:
        service = ServiceClient(http)
        (key,) = service.put_integration("billing")
        (other,) = service.put_integration("other")
        body = timed(example("otlp/lint-push.json"), NOW_NS)
        assert push(service, key, body).status_code == 200
        assert push(service, key, body).status_code == 200
        throttled = push(service, key, body)
        assert throttled.status_code == 429
        assert int(throttled.headers["Retry-After"]) >= 1
        # Per integration: another one is not slowed down.
        assert push(service, other, body).status_code == 200


def test_an_unreachable_database_is_503_in_otlp_terms(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:9/nothing?connect_timeout=2",
        admin_token=ADMIN_TOKEN,
        data_dir=tmp_path,
        auto_migrate=False,
        notify_sender=False,
    )
    with TestClient(create_app(settings)) as http:
        response = http.post(
            "/v1/logs",
            content=to_protobuf(example("otlp/lint-push.json")),
            headers={**key_headers(apikeys.generate_api_key()), "Content-Type": PROTOBUF},
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.headers["content-type"] == PROTOBUF


def test_lint_and_drift_pushes_are_kept_with_history_and_move_no_alert(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("billing")
    for offset in range(3):
        push_ok(service, key, timed(example("otlp/lint-push.json"), NOW_NS + offset * SECOND_NS))
    push_ok(service, key, timed(example("otlp/drift-push.json"), NOW_NS))
    first = service.read("/api/v1/integrations/billing/lint-results", limit=2)
    assert len(first["items"]) == 2
    second = service.read(
        "/api/v1/integrations/billing/lint-results", limit=2, cursor=first["nextCursor"]
    )
    assert len(second["items"]) == 1
    assert second["nextCursor"] is None
    latest = first["items"][0]
    assert latest["issues"] == [
        {"severity": "error", "category": "schema", "message": "Missing required key [redacted]"},
        {
            "severity": "warning",
            "category": "sops",
            "message": "Expected recipient '[redacted]' is missing from encrypted file.",
        },
    ]
    drift = service.read("/api/v1/integrations/billing/drift-results")["items"][0]
    assert drift["namespaces"] == [
        {
            "namespace": "ledger",
            "keys": 1,
            "missingFrom": ["production"],
            "presentIn": ["dev", "staging"],
        }
    ]
    assert service.alerts("billing") == []
    assert checkpoint(service, key).status_code == 404


def test_no_path_file_name_key_name_or_recipient_reaches_any_column(
    service: ServiceClient, settings: Settings
) -> None:
    """Every example of both protocols in, then every text and JSON column of
    every table searched."""
    (key,) = service.put_integration("billing", collection={"ciContext": True})
    for name in ("report-cli.json", "report-spec.json"):
        service.submit_ok(key, example(name))
    assert service.batch(key, example("batch.json")["reports"]).status_code == 200
    assert service.batch(key, example("batch-backfill-detached.json")["reports"]).status_code == 200
    for path in forbidden_examples():
        assert service.submit(key, json.loads(path.read_text())).status_code == 422
    for name in ("report-push-backfilled-detached", "report-push", "lint-push", "drift-push"):
        body = timed(example(f"otlp/{name}.json"), NOW_NS)
        push_ok(service, key, body)
        push_ok(
            service,
            key,
            gzipped(to_protobuf(body)),
            content_type=PROTOBUF,
            headers={"Content-Encoding": "gzip"},
        )

    stored = every_stored_text(settings.resolved_database_url)
    assert len(stored) > 50
    text = "\n".join(stored)
    for value in NEVER_STORED:
        assert value not in text, value
    for path in forbidden_examples():
        for value in _long_strings(json.loads(path.read_text())):
            if value not in json.dumps([example("report-spec.json"), example("report-cli.json")]):
                assert value not in text, (path.name, value)


def _long_strings(node: object) -> list[str]:
    if isinstance(node, str):
        return [node] if len(node) > 12 else []
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _long_strings(key) + _long_strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _long_strings(value)]
    return []
