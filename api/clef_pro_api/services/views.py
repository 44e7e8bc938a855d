"""Read models for the dashboard and the read API, derived from stored reports.

The matrix and the drift view are read from the report body itself (the HEAD
or the report of a chosen commit); nothing here is a second copy to keep in
step.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

from sqlalchemy import func, or_, select, tuple_
from sqlalchemy.orm import Session

from clef_pro.domain.config import IntegrationSource
from clef_pro.domain.connect import Connection
from clef_pro.domain.lifecycle import AlertStatus
from clef_pro.domain.report import Protocol
from clef_pro.domain.severity import HealthStatus, Severity
from clef_pro_api import schemas
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.services.ingest import last_commit
from clef_pro_api.services.paging import decode_cursor, decode_micros_cursor, encode_cursor
from clef_pro_api.storage import models

#: ``acknowledged``: open alerts someone acknowledged (they are still open).
AlertFilter = Literal["open", "acknowledged", "resolved", "all"]


def get_integration(session: Session, integration_id: str) -> models.Integration:
    integration = session.get(models.Integration, integration_id)
    if integration is None or integration.deleted_at is not None:
        raise NotFound(integration_id)
    return integration


def _commit_ref(report: models.Report) -> schemas.CommitRef:
    return schemas.CommitRef(
        report_id=report.id,
        commit_sha=report.commit_sha,
        branch=report.branch,
        commit_timestamp=report.commit_timestamp,
        received_at=report.received_at,
    )


def list_integrations(session: Session, only: str | None = None) -> schemas.IntegrationList:
    """Every integration with its health at a glance (or just the one ``only``)."""
    query = (
        select(models.Integration, models.Report)
        .outerjoin(models.Report, models.Report.id == models.Integration.head_report_id)
        .where(models.Integration.deleted_at.is_(None))
        .order_by(models.Integration.display_name, models.Integration.id)
    )
    alert_query = (
        select(models.Alert.integration_id, models.Alert.severity, func.count())
        .where(models.Alert.status == AlertStatus.OPEN)
        .group_by(models.Alert.integration_id, models.Alert.severity)
    )
    if only is not None:
        query = query.where(models.Integration.id == only)
        alert_query = alert_query.where(models.Alert.integration_id == only)
    rows = session.execute(query).all()
    counts: dict[str, schemas.AlertCounts] = defaultdict(schemas.AlertCounts)
    for integration_id, severity, count in session.execute(alert_query):
        setattr(counts[integration_id], severity, count)

    items = []
    for integration, head in rows:
        body = head.body if head is not None else None
        items.append(
            schemas.IntegrationSummary(
                integration_id=integration.id,
                display_name=integration.display_name,
                repository=integration.config.get("repository"),
                head=_commit_ref(head) if head is not None else None,
                passed=head.passed if head is not None else None,
                worst_status=_worst_status(body["summary"]["cells"]) if body else None,
                drifted_namespaces=[d["namespace"] for d in body["drift"] if d["isDrifted"]]
                if body
                else [],
                open_alerts=counts[integration.id],
            )
        )
    return schemas.IntegrationList(items=items)


def integration_status(
    session: Session, integration_id: str, public_url: str
) -> schemas.IntegrationStatus:
    get_integration(session, integration_id)
    newest = last_commit(session, integration_id)
    counts = schemas.AlertCounts()
    for severity, count in session.execute(
        select(models.Alert.severity, func.count())
        .where(
            models.Alert.integration_id == integration_id,
            models.Alert.status == AlertStatus.OPEN,
        )
        .group_by(models.Alert.severity)
    ):
        setattr(counts, severity, count)
    connection = Connection(public_url, integration_id)
    return schemas.IntegrationStatus(
        integration_id=integration_id,
        telemetry_url=connection.telemetry_url,
        api_url=connection.api_url,
        last_commit_sha=newest.commit_sha if newest else None,
        last_report_time=newest.received_at if newest else None,
        open_alerts=counts,
    )


def _worst_status(cells: list[dict[str, str]]) -> HealthStatus | None:
    statuses = [HealthStatus(cell["healthStatus"]) for cell in cells]
    return max(statuses, key=lambda status: status.badness, default=None)


def matrix(session: Session, integration_id: str, commit: str | None) -> schemas.MatrixView:
    integration = get_integration(session, integration_id)
    if commit is None:
        if integration.head_report_id is None:
            raise NotFound("no report on a tracked branch yet")
        report = session.get(models.Report, integration.head_report_id)
    else:
        report = _report_at_commit(session, integration_id, commit.lower())
    if report is None:
        raise NotFound(commit or "head")
    body = report.body
    summary = body["summary"]
    protocol = body.get("protocol", Protocol.REPORT_API.value)
    cells_reported = protocol != Protocol.OTLP.value
    return schemas.MatrixView(
        integration_id=integration_id,
        commit=_commit_ref(report),
        is_head=report.id == integration.head_report_id,
        protocol=protocol,
        cells_reported=cells_reported,
        passed=summary["passed"],
        files_scanned=summary["filesScanned"],
        violations=summary["violations"],
        namespaces=summary["namespaces"],
        environments=summary["environments"],
        cells=summary["cells"] if cells_reported else _cells_named_by(body["policyResults"]),
        drift=body["drift"],
        policy_results=body["policyResults"],
        ci_context=body.get("ciContext"),
    )


#: The health a cell gets from the worst issue naming it (OTLP reports send no cells).
_HEALTH_OF: Final = {
    "critical": HealthStatus.CRITICAL,
    "warning": HealthStatus.WARNING,
    "info": HealthStatus.HEALTHY,
}


def _cells_named_by(policy_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The namespace x environment pairs a report's issues name, each as bad as
    its worst issue: all that can be said of a report that sends no cells."""
    named: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for result in policy_results:
        namespace, _, environment = str(result.get("scope", "*")).partition("/")
        if namespace not in ("", "*") and environment not in ("", "*"):
            named[(namespace, environment)].append(result)
    cells = []
    for (namespace, environment), results in sorted(named.items()):
        worst = max(results, key=lambda result: Severity(result["severity"]).rank)
        count = len(results)
        cells.append(
            {
                "namespace": namespace,
                "environment": environment,
                "healthStatus": _HEALTH_OF[worst["severity"]].value,
                "description": f"{count} issue{'s' if count != 1 else ''} reported; "
                "this CLI sends no cell details",
            }
        )
    return cells


def _report_at_commit(session: Session, integration_id: str, commit: str) -> models.Report | None:
    """The report of ``commit``: a full sha, or a prefix that names exactly one."""
    matches = session.scalars(
        select(models.Report)
        .where(
            models.Report.integration_id == integration_id,
            or_(
                models.Report.commit_sha == commit,
                models.Report.commit_sha.startswith(commit, autoescape=True),
            ),
        )
        .limit(2)
    ).all()
    exact = [report for report in matches if report.commit_sha == commit]
    if exact:
        return exact[0]
    if len(matches) > 1:
        raise Conflict("that commit prefix names more than one report")
    return matches[0] if matches else None


def report_history(
    session: Session, integration_id: str, *, limit: int, cursor: str | None
) -> schemas.ReportPage:
    """Reports newest first (by commit time), keyset-paged so deep pages stay cheap."""
    integration = get_integration(session, integration_id)
    query = select(models.Report).where(models.Report.integration_id == integration_id)
    if cursor is not None:
        timestamp, report_id = decode_cursor(cursor, int)
        query = query.where(
            tuple_(models.Report.commit_timestamp, models.Report.id) < (timestamp, report_id)
        )
    rows = session.scalars(
        query.order_by(models.Report.commit_timestamp.desc(), models.Report.id.desc()).limit(
            limit + 1
        )
    ).all()
    page = rows[:limit]
    return schemas.ReportPage(
        items=[
            schemas.ReportItem(
                id=row.id,
                commit_sha=row.commit_sha,
                branch=row.branch,
                commit_timestamp=row.commit_timestamp,
                received_at=row.received_at,
                passed=row.passed,
                violations=row.violations,
                cli_version=row.body["cliVersion"],
                is_head=row.id == integration.head_report_id,
                ci_context=row.body.get("ciContext"),
            )
            for row in page
        ],
        next_cursor=encode_cursor(page[-1].commit_timestamp, page[-1].id)
        if len(rows) > limit
        else None,
    )


def alert_view(alert: models.Alert) -> schemas.AlertView:
    return schemas.AlertView.model_validate(alert, from_attributes=True)


def list_alerts(session: Session, integration_id: str, status: AlertFilter) -> schemas.AlertList:
    get_integration(session, integration_id)
    query = select(models.Alert).where(models.Alert.integration_id == integration_id)
    if status == "acknowledged":
        query = query.where(models.Alert.status == AlertStatus.OPEN, models.Alert.acknowledged)
    elif status != "all":
        query = query.where(models.Alert.status == status)
    rows = session.scalars(query.order_by(models.Alert.opened_at.desc(), models.Alert.id)).all()
    return schemas.AlertList(items=[alert_view(row) for row in rows])


def get_alert(session: Session, integration_id: str, alert_id: str) -> schemas.AlertView:
    """One alert of one integration; another integration's alert is not found."""
    alert = session.get(models.Alert, alert_id)
    if alert is None or alert.integration_id != integration_id:
        raise NotFound(alert_id)
    return alert_view(alert)


def integration_sources(
    session: Session, only: str | None = None
) -> dict[str, IntegrationSource | None]:
    """Each live integration's Kubernetes source (``None`` when it has none):
    what the dashboard authorises Kubernetes users against."""
    query = select(models.Integration.id, models.Integration.config).where(
        models.Integration.deleted_at.is_(None)
    )
    if only is not None:
        query = query.where(models.Integration.id == only)
    rows = session.execute(query).all()
    return {
        integration_id: IntegrationSource.model_validate(config["source"])
        if config.get("source")
        else None
        for integration_id, config in rows
    }


# ------------------------------------------------------------ lint and drift


def _microseconds(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


PushedRow = TypeVar("PushedRow", models.LintResultRow, models.DriftResultRow)


def _pushed_page(
    session: Session,
    table: type[PushedRow],
    integration_id: str,
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[PushedRow], str | None]:
    """Results newest push first, keyset-paged on (push time, id)."""
    get_integration(session, integration_id)
    query = select(table).where(table.integration_id == integration_id)
    if cursor is not None:
        pushed_at, row_id = decode_micros_cursor(cursor)
        query = query.where(tuple_(table.pushed_at, table.id) < (pushed_at, row_id))
    rows = session.scalars(
        query.order_by(table.pushed_at.desc(), table.id.desc()).limit(limit + 1)
    ).all()
    page = list(rows[:limit])
    next_cursor = (
        encode_cursor(_microseconds(page[-1].pushed_at), page[-1].id) if len(rows) > limit else None
    )
    return page, next_cursor


def lint_results(
    session: Session, integration_id: str, *, limit: int, cursor: str | None
) -> schemas.LintPage:
    rows, next_cursor = _pushed_page(
        session, models.LintResultRow, integration_id, limit=limit, cursor=cursor
    )
    return schemas.LintPage(
        items=[
            schemas.LintView(
                id=row.id,
                pushed_at=row.pushed_at,
                received_at=row.received_at,
                cli_version=row.cli_version,
                file_count=row.file_count,
                pending_count=row.pending_count,
                error_count=row.error_count,
                warning_count=row.warning_count,
                info_count=row.info_count,
                passed=row.passed,
                issues=row.document.get("issues", []),
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )


def drift_results(
    session: Session, integration_id: str, *, limit: int, cursor: str | None
) -> schemas.DriftPage:
    rows, next_cursor = _pushed_page(
        session, models.DriftResultRow, integration_id, limit=limit, cursor=cursor
    )
    return schemas.DriftPage(
        items=[
            schemas.DriftView(
                id=row.id,
                pushed_at=row.pushed_at,
                received_at=row.received_at,
                cli_version=row.cli_version,
                namespaces_compared=row.namespaces_compared,
                namespaces_clean=row.namespaces_clean,
                issue_count=row.issue_count,
                passed=row.passed,
                namespaces=row.document.get("namespaces", []),
                issues=row.document.get("issues", []),
            )
            for row in rows
        ],
        next_cursor=next_cursor,
    )
