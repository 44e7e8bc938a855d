"""Response shapes of the service's own APIs (the read API and the config API).

Request bodies of the contract and the config API are domain models
(:mod:`clef_pro.domain.report`, :mod:`clef_pro.domain.config`); these are the
views the service derives for readers, camelCase like the contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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


class ConfigStored(ApiModel):
    integration_id: str
    created: bool


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


class MatrixView(ApiModel):
    integration_id: str
    commit: CommitRef
    is_head: bool
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
    introduced_by_commit: str
    resolved_by_commit: str | None
    last_seen_commit: str
    opened_at: datetime
    resolved_at: datetime | None
    updated_at: datetime


class AlertList(ApiModel):
    items: list[AlertView]
