"""Read models for the dashboard and the read API, derived from stored reports.

The matrix and the drift view are read from the report body itself (the HEAD
or the report of a chosen commit); nothing here is a second copy to keep in
step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, TypeVar

from sqlalchemy import func, literal, select, tuple_, union_all
from sqlalchemy.orm import Session

from clef_pro.domain.config import IntegrationSource
from clef_pro.domain.connect import Connection
from clef_pro.domain.lifecycle import AlertStatus
from clef_pro.domain.report import Protocol
from clef_pro.domain.severity import HealthStatus, Severity
from clef_pro_api import schemas
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.services.ingest import last_commit
from clef_pro_api.services.paging import (
    decode_cursor,
    decode_micros_cursor,
    decode_time_cursor,
    encode_cursor,
)
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


#: Integrations per page of the read API unless asked otherwise, and at most.
INTEGRATION_PAGE: Final = 100
INTEGRATION_PAGE_MAX: Final = 500


def list_integrations(
    session: Session,
    only: str | None = None,
    *,
    limit: int = INTEGRATION_PAGE,
    cursor: str | None = None,
) -> schemas.IntegrationList:
    """A page of integrations by name, each with its health at a glance (or
    just the one ``only``); keyset-paged on (display name, id)."""
    query = (
        select(models.Integration, models.Report)
        .outerjoin(models.Report, models.Report.id == models.Integration.head_report_id)
        .where(models.Integration.deleted_at.is_(None))
        .order_by(models.Integration.display_name, models.Integration.id)
    )
    if only is not None:
        query = query.where(models.Integration.id == only)
    if cursor is not None:
        name, integration_id = decode_cursor(cursor, str)
        query = query.where(
            tuple_(models.Integration.display_name, models.Integration.id)
            > (str(name), integration_id)
        )
    fetched = session.execute(query.limit(limit + 1)).all()
    rows = fetched[:limit]
    counts: dict[str, schemas.AlertCounts] = defaultdict(schemas.AlertCounts)
    if rows:
        for integration_id, severity, count in session.execute(
            select(models.Alert.integration_id, models.Alert.severity, func.count())
            .where(
                models.Alert.integration_id.in_([integration.id for integration, _head in rows]),
                models.Alert.status == AlertStatus.OPEN,
            )
            .group_by(models.Alert.integration_id, models.Alert.severity)
        ):
            setattr(counts[integration_id], severity, count)
    last = rows[-1][0] if rows else None
    next_cursor = (
        encode_cursor(last.display_name, last.id)
        if last is not None and len(fetched) > limit
        else None
    )

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
    return schemas.IntegrationList(items=items, next_cursor=next_cursor)


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
    """The report of ``commit``: a full sha, or a prefix that names exactly one.

    The exact match first (the unique (integration, commit) index, one row);
    only then the prefix, as a range on that same index: every sha starting
    with ``p`` sorts at or after ``p`` and before ``p`` with its last digit
    raised. Never ``LIKE`` or an ``OR`` of both, which the planner answers
    with a scan of the integration's whole history.
    """
    exact = session.scalars(
        select(models.Report).where(
            models.Report.integration_id == integration_id,
            models.Report.commit_sha == commit,
        )
    ).one_or_none()
    if exact is not None:
        return exact
    upper = prefix_upper_bound(commit)
    if upper is None:
        return None
    matches = session.scalars(
        select(models.Report)
        .where(
            models.Report.integration_id == integration_id,
            models.Report.commit_sha >= commit,
            models.Report.commit_sha < upper,
        )
        .order_by(models.Report.commit_sha)
        .limit(2)
    ).all()
    if len(matches) > 1:
        raise Conflict("that commit prefix names more than one report")
    return matches[0] if matches else None


#: The digits of a stored sha (lower case), in their sort order.
_HEX_DIGITS: Final = "0123456789abcdef"


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every lower-case hex string that starts with
    ``prefix``, made of hex digits and ``g`` (so it sorts the same in bytes
    and in any collation's order of digits before letters); ``None`` when
    ``prefix`` is not lower-case hex, which no stored sha starts with."""
    if not prefix or any(char not in _HEX_DIGITS for char in prefix):
        return None
    last = prefix[-1]
    raised = "g" if last == "f" else _HEX_DIGITS[_HEX_DIGITS.index(last) + 1]
    return prefix[:-1] + raised


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


#: Alerts per page of the read API unless asked otherwise, and at most.
ALERT_PAGE: Final = 50
ALERT_PAGE_MAX: Final = 500


def list_alerts(
    session: Session,
    integration_id: str,
    status: AlertFilter,
    *,
    limit: int = ALERT_PAGE,
    cursor: str | None = None,
) -> schemas.AlertList:
    """A page of alerts, newest opened first, keyset-paged on (opened, id) by
    ``ix_alerts_listing`` (one status) or ``ix_alerts_opened`` (all): a deep
    page costs what the first does, whatever the history holds."""
    get_integration(session, integration_id)
    query = select(models.Alert).where(models.Alert.integration_id == integration_id)
    if status == "acknowledged":
        query = query.where(models.Alert.status == AlertStatus.OPEN, models.Alert.acknowledged)
    elif status != "all":
        query = query.where(models.Alert.status == status)
    if cursor is not None:
        opened_at, alert_id = decode_time_cursor(cursor)
        query = query.where(tuple_(models.Alert.opened_at, models.Alert.id) < (opened_at, alert_id))
    rows = session.scalars(
        query.order_by(models.Alert.opened_at.desc(), models.Alert.id.desc()).limit(limit + 1)
    ).all()
    page = rows[:limit]
    return schemas.AlertList(
        items=[alert_view(row) for row in page],
        next_cursor=encode_cursor(page[-1].opened_at.isoformat(), page[-1].id)
        if len(rows) > limit
        else None,
    )


#: The resolved tab counts up to here and then says "more": resolved alerts
#: are history, and counting all of them would grow with it.
RESOLVED_COUNT_CAP: Final = 1000


@dataclass(frozen=True, slots=True)
class TabCounts:
    open: int
    acknowledged: int
    #: At most ``RESOLVED_COUNT_CAP``; ``more_resolved`` says there are more.
    resolved: int
    more_resolved: bool

    def __getitem__(self, tab: str) -> int:
        return int(getattr(self, tab))


def alert_tab_counts(
    session: Session, integration_id: str, *, resolved_cap: int | None = None
) -> TabCounts:
    """How many alerts each tab of the dashboard holds, in one statement: the
    open ones (the present, however long the history) grouped by
    acknowledgement from ``ix_alerts_listing`` alone, and the resolved ones
    counted up to ``resolved_cap`` (``RESOLVED_COUNT_CAP``) and no further, so
    the cost is flat."""
    if resolved_cap is None:
        resolved_cap = RESOLVED_COUNT_CAP
    alert = models.Alert
    open_now = (
        select(alert.status, alert.acknowledged, func.count())
        .where(alert.integration_id == integration_id, alert.status == AlertStatus.OPEN)
        .group_by(alert.status, alert.acknowledged)
    )
    some_resolved = (
        select(alert.id)
        .where(alert.integration_id == integration_id, alert.status == AlertStatus.RESOLVED)
        .limit(resolved_cap + 1)
        .subquery()
    )
    resolved = select(
        literal(AlertStatus.RESOLVED.value), literal(False), func.count()
    ).select_from(some_resolved)
    tally = {"open": 0, "acknowledged": 0, "resolved": 0}
    for status, acknowledged, count in session.execute(union_all(open_now, resolved)):
        if status == AlertStatus.OPEN:
            tally["open"] += count
            if acknowledged:
                tally["acknowledged"] += count
        else:
            tally["resolved"] = count
    return TabCounts(
        open=tally["open"],
        acknowledged=tally["acknowledged"],
        resolved=min(tally["resolved"], resolved_cap),
        more_resolved=tally["resolved"] > resolved_cap,
    )


def get_alert(session: Session, integration_id: str, alert_id: str) -> schemas.AlertView:
    """One alert of one integration; another integration's alert is not found."""
    alert = session.get(models.Alert, alert_id)
    if alert is None or alert.integration_id != integration_id:
        raise NotFound(alert_id)
    return alert_view(alert)


def integration_sources(
    session: Session, only: str | None = None, *, among: Sequence[str] | None = None
) -> dict[str, IntegrationSource | None]:
    """Each live integration's Kubernetes source (``None`` when it has none):
    what the dashboard authorises Kubernetes users against. ``only`` one, or
    those ``among`` a page of them."""
    query = select(models.Integration.id, models.Integration.config).where(
        models.Integration.deleted_at.is_(None)
    )
    if only is not None:
        query = query.where(models.Integration.id == only)
    if among is not None:
        query = query.where(models.Integration.id.in_(list(among)))
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
