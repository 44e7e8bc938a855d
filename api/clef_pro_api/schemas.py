"""Response shapes of the service's own APIs (the read API and the config API).

Request bodies of the contract and the config API are domain models
(:mod:`clef_pro.domain.report`, :mod:`clef_pro.domain.config`); these are the
views the service derives for readers, camelCase like the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from clef_pro.domain.durations import DURATION_PATTERN, parse_duration
from clef_pro.domain.severity import HealthStatus, Severity


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class ReportAccepted(ApiModel):
    id: str
    commit_sha: str


class BatchAccepted(ApiModel):
    accepted: int
    report_ids: list[str]


class CheckpointConfig(ApiModel):
    collect_ci_context: bool = Field(alias="collectCIContext")
    policies: list[dict[str, Any]]


class Checkpoint(ApiModel):
    """The CLI's first call: where to backfill from and what to evaluate."""

    last_commit_sha: str | None
    config: CheckpointConfig


class TelemetryCheckpoint(ApiModel):
    """Today's CLI's first call (``GET /v1/checkpoint``)."""

    last_commit_sha: str | None
    #: ISO-8601 UTC of that report's order key (commit time, or push time for OTLP).
    last_timestamp: str | None


def iso_utc(epoch_ms: int) -> str:
    """``2026-03-22T12:00:00.000Z`` from epoch milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConfigStored(ApiModel):
    integration_id: str
    created: bool


class IntegrationStatus(ApiModel):
    """Counts only, for the operator to publish on the Integration resource."""

    integration_id: str
    last_commit_sha: str | None
    last_report_time: datetime | None
    open_alerts: AlertCounts
    #: Where CI jobs send reports: ``CLEF_TELEMETRY_URL`` of today's CLI and
    #: ``CLEF_API_URL`` of the report API's CLI (from the public URL).
    telemetry_url: str
    api_url: str


class CommitRef(ApiModel):
    report_id: str
    commit_sha: str
    branch: str
    commit_timestamp: int
    received_at: datetime


class AlertCounts(ApiModel):
    info: int = 0
    warning: int = 0
    critical: int = 0


class IntegrationSummary(ApiModel):
    integration_id: str
    display_name: str
    repository: str | None
    #: The HEAD: the newest report on a tracked branch, which drives the matrix.
    head: CommitRef | None
    passed: bool | None
    worst_status: HealthStatus | None
    drifted_namespaces: list[str]
    open_alerts: AlertCounts


class IntegrationList(ApiModel):
    items: list[IntegrationSummary]
    #: Pass as ``cursor`` for the next page (by name); ``null`` on the last page.
    next_cursor: str | None = None


class MatrixView(ApiModel):
    integration_id: str
    commit: CommitRef
    is_head: bool
    #: ``report-api`` or ``otlp``: which of the CLI's protocols sent the report.
    protocol: str = "report-api"
    #: False for OTLP report pushes, which send no cells: ``cells`` then holds
    #: the namespace x environment pairs the report's issues name.
    cells_reported: bool = True
    passed: bool
    files_scanned: int
    violations: int
    namespaces: list[str]
    environments: list[str]
    cells: list[dict[str, Any]]
    drift: list[dict[str, Any]]
    policy_results: list[dict[str, Any]]
    ci_context: dict[str, Any] | None


class ReportItem(ApiModel):
    id: str
    commit_sha: str
    branch: str
    commit_timestamp: int
    received_at: datetime
    passed: bool
    violations: int
    cli_version: str
    is_head: bool
    ci_context: dict[str, Any] | None


class LintIssueView(ApiModel):
    severity: str
    category: str
    message: str


class LintView(ApiModel):
    """One ``clef lint --push`` (today's CLI): counts and cleaned issues."""

    id: str
    pushed_at: datetime
    received_at: datetime
    cli_version: str
    file_count: int
    pending_count: int
    error_count: int
    warning_count: int
    info_count: int
    passed: bool
    issues: list[LintIssueView]


class LintPage(ApiModel):
    #: Newest push first: the first item is the integration's current lint.
    items: list[LintView]
    next_cursor: str | None


class DriftNamespaceView(ApiModel):
    """A drifted namespace: how many keys, and the environments they are
    missing from and present in. Never which keys."""

    namespace: str
    keys: int
    missing_from: list[str]
    present_in: list[str]


class DriftIssueView(ApiModel):
    namespace: str
    present_in: list[str]
    missing_from: list[str]
    message: str


class DriftView(ApiModel):
    """One ``clef drift --push`` (today's CLI)."""

    id: str
    pushed_at: datetime
    received_at: datetime
    cli_version: str
    namespaces_compared: int
    namespaces_clean: int
    issue_count: int
    passed: bool
    namespaces: list[DriftNamespaceView]
    issues: list[DriftIssueView]


class DriftPage(ApiModel):
    #: Newest push first: the first item is the integration's current drift.
    items: list[DriftView]
    next_cursor: str | None


class ReportPage(ApiModel):
    items: list[ReportItem]
    #: Pass as ``cursor`` for the next (older) page; ``null`` on the last page.
    next_cursor: str | None


class AlertView(ApiModel):
    id: str
    integration_id: str
    rule_id: str
    rule_name: str
    scope: str
    severity: Severity
    message: str
    status: str
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    #: When the acknowledgement runs out and the alert notifies again; ``null``:
    #: it lasts while the alert is open.
    acknowledged_until: datetime | None = None
    introduced_by_commit: str
    resolved_by_commit: str | None
    last_seen_commit: str
    opened_at: datetime
    resolved_at: datetime | None
    updated_at: datetime


class AcknowledgeRequest(ApiModel):
    """Optional body of an acknowledgement."""

    model_config = ConfigDict(extra="forbid")

    #: Silence notifications for this long (``4h``, ``7d`` is ``168h``), then
    #: notify again. Absent: for as long as the alert is open.
    acknowledge_for: Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)] | None = None

    @field_validator("acknowledge_for")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)  # a span too long for the calendar is a 422 here
        return value

    @property
    def duration(self) -> timedelta | None:
        return parse_duration(self.acknowledge_for) if self.acknowledge_for else None


class AlertList(ApiModel):
    """A page of alerts, newest opened first."""

    items: list[AlertView]
    #: Pass as ``cursor`` for the next (older) page; ``null`` on the last page.
    next_cursor: str | None = None


# ---------------------------------------------------------------- notifications


class DeliveryState(ApiModel):
    """Whether this replica delivers a channel type, and why not when it does not."""

    channel_type: str
    #: ``enabled``, or ``disabled``: messages of this type stay queued, unsent.
    delivery: Literal["enabled", "disabled"]
    reason: str | None


class NotificationChannelRef(ApiModel):
    name: str
    type: str


class NotifiedAlert(ApiModel):
    alert_id: str
    #: What the report did to the alert: ``opened``, ``recurring`` or ``resolved``.
    event: str
    severity: Severity
    rule_id: str
    scope: str


class NotificationView(ApiModel):
    id: str
    integration_id: str
    #: ``null`` for a message no report caused (an acknowledgement, its expiry,
    #: a silent integration, an Alertmanager refresh).
    report_id: str | None
    commit_sha: str
    channel: NotificationChannelRef
    #: ``pending``, ``sending``, ``sent``, ``retrying`` or ``dead``.
    status: str
    #: ``disabled`` when this replica has no backend for the channel type.
    delivery: Literal["enabled", "disabled"]
    attempts: int
    last_error: str | None
    #: When the next attempt is due (pending and retrying messages only).
    next_attempt_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    #: Set at the first attempt and the same on every resend.
    message_id: str | None
    alerts: list[NotifiedAlert]


class NotificationAttemptView(ApiModel):
    number: int
    attempted_at: datetime
    finished_at: datetime
    #: ``null`` for the attempt that delivered the message.
    error: str | None


class NotificationDetail(NotificationView):
    attempt_history: list[NotificationAttemptView]


class NotificationPage(ApiModel):
    items: list[NotificationView]
    next_cursor: str | None
    delivery: list[DeliveryState]


class ChannelNotificationSummary(ApiModel):
    """Where one alert's notifications to one channel stand."""

    channel: NotificationChannelRef
    #: The newest notification's status for this alert on this channel.
    latest_status: str
    latest_error: str | None
    counts: dict[str, int]


class AlertNotifications(ApiModel):
    alert_id: str
    #: Every channel that was told of the alert (counts over all its notifications).
    channels: list[ChannelNotificationSummary]
    #: A page of the notifications that told of it, newest first.
    items: list[NotificationView]
    #: Pass as ``cursor`` for the next (older) page; ``null`` on the last page.
    next_cursor: str | None = None


class NotificationBacklog(ApiModel):
    pending: int
    sending: int
    retrying: int
    dead: int
    oldest_pending_seconds: float | None


class NotificationStatus(ApiModel):
    delivery: list[DeliveryState]
    backlog: NotificationBacklog


# ---------------------------------------------------------------- error bodies


class ErrorMessage(BaseModel):
    """Every refusal but a validation error: one sentence, never the input."""

    detail: str


class FieldError(BaseModel):
    """One refused parameter or field: where it is, and why (never its value)."""

    loc: list[str | int]
    field: str
    msg: str
    type: str


class ValidationErrors(BaseModel):
    detail: list[FieldError]


class OtlpStatus(BaseModel):
    """An OTLP refusal: a ``google.rpc.Status`` (in JSON; protobuf for protobuf requests)."""

    code: int
    message: str
