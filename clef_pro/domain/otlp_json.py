"""OTLP/JSON logs requests: the ``ExportLogsServiceRequest`` as JSON encodes it.

The models cover what the mapping reads and ignore every other field, as the
OTLP specification requires of a receiver (a newer client may add fields).
They are parsed straight from the request bytes with ``model_validate_json``
(linear, in Rust, no intermediate dicts) and turned into the neutral
:class:`~clef_pro.domain.otlp.ResourceRecords` that protobuf bodies are turned
into too, so both encodings take one mapping.

OTLP/JSON writes 64-bit integers as decimal strings (``"intValue": "3"``,
``"timeUnixNano": "1796500000000000000"``) and accepts them as numbers too.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictStr

from clef_pro.domain.otlp import AttributeValue, LogRecord, ResourceRecords

_UINT64_MAX = 2**64 - 1
_INT64 = 2**63

Int64 = Annotated[int, Field(ge=-_INT64, lt=_INT64)]
UInt64 = Annotated[int, Field(ge=0, le=_UINT64_MAX)]


class OtlpModel(BaseModel):
    """Unknown fields are ignored (never stored): OTLP receivers must accept them."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class AnyValue(OtlpModel):
    stringValue: StrictStr | None = None  # noqa: N815 - OTLP/JSON field names
    intValue: Int64 | None = None  # noqa: N815
    boolValue: StrictBool | None = None  # noqa: N815
    doubleValue: StrictFloat | Int64 | None = None  # noqa: N815

    def scalar(self) -> AttributeValue | None:
        """The value if it is a scalar; ``None`` for arrays, maps, bytes or nothing."""
        for value in (self.stringValue, self.boolValue, self.intValue, self.doubleValue):
            if value is not None:
                return value
        return None


class KeyValue(OtlpModel):
    key: StrictStr
    value: AnyValue = Field(default_factory=AnyValue)


class Resource(OtlpModel):
    attributes: list[KeyValue] = Field(default_factory=list)


class JsonLogRecord(OtlpModel):
    timeUnixNano: UInt64 = 0  # noqa: N815
    observedTimeUnixNano: UInt64 = 0  # noqa: N815
    severityText: StrictStr = ""  # noqa: N815
    body: AnyValue | None = None
    attributes: list[KeyValue] = Field(default_factory=list)


class ScopeLogs(OtlpModel):
    logRecords: list[JsonLogRecord] = Field(default_factory=list)  # noqa: N815


class ResourceLogs(OtlpModel):
    resource: Resource = Field(default_factory=Resource)
    scopeLogs: list[ScopeLogs] = Field(default_factory=list)  # noqa: N815


class ExportLogsServiceRequest(OtlpModel):
    resourceLogs: list[ResourceLogs] = Field(default_factory=list)  # noqa: N815

    def to_records(self) -> list[ResourceRecords]:
        return [
            ResourceRecords(
                resource=_scalars(entry.resource.attributes)[0],
                unreadable_attributes=_scalars(entry.resource.attributes)[1],
                records=[
                    _record(record) for scope in entry.scopeLogs for record in scope.logRecords
                ],
            )
            for entry in self.resourceLogs
        ]


def _scalars(attributes: list[KeyValue]) -> tuple[dict[str, AttributeValue], int]:
    """Scalar attributes by key (the first of a repeated key), and how many were not."""
    scalars: dict[str, AttributeValue] = {}
    unreadable = 0
    for attribute in attributes:
        value = attribute.value.scalar()
        if value is None or attribute.key in scalars:
            unreadable += 1
            continue
        scalars[attribute.key] = value
    return scalars, unreadable


def _record(record: JsonLogRecord) -> LogRecord:
    attributes, unreadable = _scalars(record.attributes)
    body = record.body.stringValue if record.body is not None else None
    return LogRecord(
        time_unix_nano=record.timeUnixNano or record.observedTimeUnixNano,
        severity_text=record.severityText,
        body=body,
        attributes=attributes,
        unreadable_attributes=unreadable,
    )
