"""OTLP logs requests as today's Clef CLI builds them, and as an OpenTelemetry
Collector forwards them (protobuf, gzip), built with the published
opentelemetry-proto classes."""

from __future__ import annotations

import gzip
from typing import Any

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

PUSH_TIME_NS = 1_796_500_000_000_000_000
_SEVERITY = {"error": (17, "ERROR"), "warning": (13, "WARN"), "info": (9, "INFO")}


def attribute(key: str, value: str | int | bool) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def issue_record(
    severity: str,
    category: str,
    message: str,
    *,
    namespace: str | None = None,
    environment: str | None = None,
    file: str | None = "/home/runner/work/repo/repo/secrets/payments/production.enc.yaml",
    time_unix_nano: int = PUSH_TIME_NS,
) -> dict[str, Any]:
    """A ``clef.report.issue`` record, as the CLI's ``reportToOtlp`` writes one."""
    number, text = _SEVERITY.get(severity, (9, "INFO"))
    attributes = [
        attribute("event.name", "clef.report.issue"),
        attribute("clef.severity", severity),
        attribute("clef.category", category),
        attribute("clef.message", message),
    ]
    if file:
        attributes.append(attribute("clef.file", file))
    if namespace:
        attributes.append(attribute("clef.namespace", namespace))
    if environment:
        attributes.append(attribute("clef.environment", environment))
    return {
        "timeUnixNano": str(time_unix_nano),
        "severityNumber": number,
        "severityText": text,
        "body": {"stringValue": message},
        "attributes": attributes,
    }


def report_push(
    commit: str,
    *,
    issues: list[dict[str, Any]],
    branch: str = "main",
    time_unix_nano: int = PUSH_TIME_NS,
    version: str = "0.1.30",
) -> dict[str, Any]:
    """One ``clef report --push`` request for ``commit`` (its issues re-timed to the push)."""
    errors = sum(1 for record in issues if _attr(record, "clef.severity") == "error")
    warnings = sum(1 for record in issues if _attr(record, "clef.severity") == "warning")
    infos = sum(1 for record in issues if _attr(record, "clef.severity") == "info")
    summary = {
        "timeUnixNano": str(time_unix_nano),
        "severityNumber": 17 if errors else 9,
        "severityText": "ERROR" if errors else "INFO",
        "body": {"stringValue": "report.summary"},
        "attributes": [
            attribute("event.name", "clef.report.summary"),
            attribute("clef.errorCount", errors),
            attribute("clef.warningCount", warnings),
            attribute("clef.infoCount", infos),
            attribute("clef.matrixCells", 6),
            attribute("clef.passed", errors == 0),
        ],
    }
    records = [summary] + [{**record, "timeUnixNano": str(time_unix_nano)} for record in issues]
    return {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [
                        attribute("service.name", "clef-cli"),
                        attribute("service.version", version),
                        attribute("clef.repo.origin", "github.com/acme/payments-secrets"),
                        attribute("clef.repo.commit", commit),
                        attribute("clef.repo.branch", branch),
                    ]
                },
                "scopeLogs": [
                    {"scope": {"name": "clef.cli", "version": version}, "logRecords": records}
                ],
            }
        ]
    }


def _attr(record: dict[str, Any], key: str) -> Any:
    for entry in record["attributes"]:
        if entry["key"] == key:
            return next(iter(entry["value"].values()))
    return None


def to_protobuf(body: dict[str, Any]) -> bytes:
    """The same request as protobuf bytes (OTLP/JSON parses as proto3 JSON)."""
    message = json_format.ParseDict(body, ExportLogsServiceRequest())
    return message.SerializeToString()


def gzipped(payload: bytes) -> bytes:
    return gzip.compress(payload)
