"""Today's CLI at the OTLP door: decode a logs request, map it, store what it holds.

Bodies come as OTLP/JSON (what the Clef CLI sends) or protobuf (what an
OpenTelemetry Collector's ``otlphttp`` exporter forwards), either possibly
gzip-compressed. Protobuf is decoded by the published ``opentelemetry-proto``
classes; JSON by the domain's OTLP/JSON models. Both become the domain's
neutral records and take one mapping (:mod:`clef_pro.domain.otlp`).

Report pushes go through :func:`clef_pro_api.services.ingest.ingest`, the
same entry point as the report API, so integrations, keys, checkpoints and
alerts are one whichever protocol a push used. Lint and drift pushes are kept
as the integration's latest results with their history.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from pydantic import ValidationError
from sqlalchemy import Connection, insert, select

from clef_pro.domain.otlp import (
    AttributeValue,
    DriftResult,
    LintResult,
    LogRecord,
    Mapped,
    ResourceRecords,
)
from clef_pro.domain.otlp_json import ExportLogsServiceRequest
from clef_pro.domain.report import Protocol, content_digest
from clef_pro_api.services import ingest
from clef_pro_api.storage import models
from clef_pro_api.storage.exchange import Exchange
from clef_pro_api.storage.models import utcnow

JSON: Final = "application/json"
PROTOBUF: Final = "application/x-protobuf"
#: Media types of OTLP/HTTP; ``application/protobuf`` is the registered name.
MEDIA_TYPES: Final = {JSON: JSON, PROTOBUF: PROTOBUF, "application/protobuf": PROTOBUF}


class MalformedRequest(Exception):
    """Not an OTLP logs request (``400``). The message never quotes the body."""


class TooLarge(Exception):
    """Larger than the limit once decompressed (``413``)."""


class UnsupportedEncoding(Exception):
    """A ``Content-Encoding`` other than gzip or identity (``415``)."""


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body as sent, uncompressed, and never more than ``limit`` bytes of it
    in memory: a small gzip bomb is refused, not inflated."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise UnsupportedEncoding("Content-Encoding must be gzip or identity")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise MalformedRequest("the body is not valid gzip") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the body is larger than {limit} bytes once decompressed")
    if not inflater.eof:
        raise MalformedRequest("the gzip body is truncated")
    return inflated


def decode(body: bytes, media_type: str) -> list[ResourceRecords]:
    """Decode an ``ExportLogsServiceRequest`` in ``media_type`` (JSON or protobuf)."""
    if media_type == PROTOBUF:
        try:
            message = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
        except (DecodeError, ValueError):
            raise MalformedRequest("the body is not a protobuf ExportLogsServiceRequest") from None
        return _from_protobuf(message)
    try:
        request = ExportLogsServiceRequest.model_validate_json(body)
    except ValidationError as exc:
        raise MalformedRequest(_json_problem(exc)) from None
    return request.to_records()


def _json_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False, include_input=False, include_context=False)[0]
    if error["type"] == "json_invalid":
        return f"the body is not valid JSON ({str(error['msg']).removeprefix('Invalid JSON: ')})"
    where = ".".join(str(part) for part in error["loc"]) or "the body"
    return f"not an OTLP/JSON ExportLogsServiceRequest: {where}: {error['msg']}"


def _scalar(value: common_pb2.AnyValue) -> AttributeValue | None:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    return None


def _attributes(
    attributes: Iterable[common_pb2.KeyValue],
) -> tuple[dict[str, AttributeValue], int]:
    scalars: dict[str, AttributeValue] = {}
    unreadable = 0
    for attribute in attributes:
        value = _scalar(attribute.value)
        if value is None or attribute.key in scalars:
            unreadable += 1
            continue
        scalars[attribute.key] = value
    return scalars, unreadable


def _from_protobuf(message: logs_service_pb2.ExportLogsServiceRequest) -> list[ResourceRecords]:
    resources: list[ResourceRecords] = []
    for entry in message.resource_logs:
        resource, unreadable = _attributes(entry.resource.attributes)
        records = []
        for scope in entry.scope_logs:
            for record in scope.log_records:
                attributes, record_unreadable = _attributes(record.attributes)
                body = record.body.string_value if record.body.HasField("string_value") else None
                records.append(
                    LogRecord(
                        time_unix_nano=record.time_unix_nano or record.observed_time_unix_nano,
                        severity_text=record.severity_text,
                        body=body,
                        attributes=attributes,
                        unreadable_attributes=record_unreadable,
                    )
                )
        resources.append(ResourceRecords(resource, records, unreadable))
    return resources


@dataclass(slots=True)
class Stored:
    ingested: ingest.IngestResult | None
    lint: int
    drift: int


def store(exchange: Exchange, integration_id: str, mapped: Mapped) -> Stored:
    """Store one request's results under the integration's ingestion lock.
    The caller commits (``exchange.commit()``)."""
    ingested = None
    caller = ingest.ById(integration_id)
    if mapped.reports:
        ingested = ingest.ingest(exchange, caller, mapped.reports, protocol=Protocol.OTLP)
    else:
        ingest.lock(exchange, caller)
    if mapped.lint or mapped.drift:
        # The report's writes go first: the results' own statements run now.
        exchange.send()
    lint = _store_results(exchange.connection, models.LintResultRow, integration_id, mapped.lint)
    drift = _store_results(exchange.connection, models.DriftResultRow, integration_id, mapped.drift)
    return Stored(ingested, lint, drift)


def _lint_columns(result: LintResult) -> dict[str, object]:
    return {
        "file_count": result.file_count,
        "pending_count": result.pending_count,
        "error_count": result.error_count,
        "warning_count": result.warning_count,
        "info_count": result.info_count,
    }


def _drift_columns(result: DriftResult) -> dict[str, object]:
    return {
        "namespaces_compared": result.namespaces_compared,
        "namespaces_clean": result.namespaces_clean,
        "issue_count": result.issue_count,
    }


def _store_results(
    session: Connection,
    table: type[models.LintResultRow] | type[models.DriftResultRow],
    integration_id: str,
    results: list[LintResult] | list[DriftResult],
) -> int:
    """Insert results not stored yet; a push retried is the same push (by digest)."""
    if not results:
        return 0
    rows: dict[str, dict[str, object]] = {}
    now = utcnow()
    for result in results:
        columns = (
            _lint_columns(result) if isinstance(result, LintResult) else _drift_columns(result)
        )
        common: dict[str, object] = {
            "pushed_at": datetime.fromtimestamp(result.pushed_at_ms / 1000, UTC),
            "cli_version": result.cli_version,
            "passed": result.passed,
            "document": result.to_document(),
        }
        digest = content_digest(
            {**columns, **common, "pushed_at": result.pushed_at_ms, "table": table.__tablename__}
        )
        rows[digest] = {
            "id": models.new_id(),
            "integration_id": integration_id,
            "digest": digest,
            "received_at": now,
            **columns,
            **common,
        }
    stored = set(
        session.scalars(
            select(table.digest).where(
                table.integration_id == integration_id, table.digest.in_(rows)
            )
        )
    )
    new = [row for digest, row in rows.items() if digest not in stored]
    if new:
        session.execute(insert(table), new)
    return len(new)
