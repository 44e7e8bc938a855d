"""What the dashboard draws: an integration's trend over its last reports, each
overview row's sparkline, and the mean time to resolve per rule.

Every query here is bounded by what is drawn, never by history: the last N
reports by the history index, the alert events of those N reports by their
primary key, the alerts open now, and the newest resolutions (at most
``RESOLUTIONS_COUNTED``, inside one time window) by ``ix_alerts_resolved``.
Nothing loads or aggregates all of an integration's past.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import ColumnElement, Float, cast, func, select, union_all
from sqlalchemy.orm import Session

from clef_pro.domain.lifecycle import AlertEvent, AlertStatus
from clef_pro_api.storage import models

#: Reports on an integration's trend, and on an overview row's sparkline.
TREND_REPORTS: Final = 30
SPARKLINE_REPORTS: Final = 20
#: The window of the mean time to resolve, and the most resolutions it averages
#: (the newest ones): what bounds its cost, however many alerts resolve.
RESOLUTION_WINDOW: Final = timedelta(days=90)
RESOLUTIONS_COUNTED: Final = 500
SEVERITIES: Final = ("critical", "warning", "info")


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One report on the trend, with the alerts open once it was in."""

    report_id: str
    commit_sha: str
    branch: str
    commit_timestamp: int
    violations: int
    passed: bool
    #: Open alerts by severity (every severity present, zeros included).
    open_alerts: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class EventRow:
    report_id: str
    alert_id: str
    event: str
    severity: str


def open_alerts_by_report(
    newest_first: Sequence[str],
    events: Iterable[EventRow],
    open_now: Mapping[str, str],
) -> dict[str, dict[str, int]]:
    """Open alerts by severity as of each report, newest first, walking back
    from the alerts open now (``alert id -> severity``).

    A report that drove the lifecycle opened, recurred on and resolved alerts
    (its ``events``); going back past it undoes them. Reports that drove
    nothing (older commits, untracked branches) show the state in force at
    their place in the history. Pure, so the walk is tested without a database.
    """
    by_report: dict[str, list[EventRow]] = {}
    for row in events:
        by_report.setdefault(row.report_id, []).append(row)
    state = dict(open_now)
    counts: dict[str, dict[str, int]] = {}
    for report_id in newest_first:
        happened = by_report.get(report_id, [])
        for row in happened:
            if row.event != AlertEvent.RESOLVED:
                state[row.alert_id] = row.severity  # its severity as this report saw it
        tally = Counter(state.values())
        counts[report_id] = {severity: tally.get(severity, 0) for severity in SEVERITIES}
        for row in happened:
            if row.event == AlertEvent.OPENED:
                state.pop(row.alert_id, None)
            elif row.event == AlertEvent.RESOLVED:
                state[row.alert_id] = row.severity
    return counts


def integration_trend(
    session: Session, integration_id: str, limit: int = TREND_REPORTS
) -> list[TrendPoint]:
    """The last ``limit`` reports (the history's order), oldest first."""
    reports = session.execute(
        select(
            models.Report.id,
            models.Report.commit_sha,
            models.Report.branch,
            models.Report.commit_timestamp,
            models.Report.violations,
            models.Report.passed,
        )
        .where(models.Report.integration_id == integration_id)
        .order_by(models.Report.commit_timestamp.desc(), models.Report.id.desc())
        .limit(limit)
    ).all()
    if not reports:
        return []
    ids = [row.id for row in reports]
    events = [
        EventRow(*row)
        for row in session.execute(
            select(
                models.AlertEventRow.report_id,
                models.AlertEventRow.alert_id,
                models.AlertEventRow.event,
                models.AlertEventRow.severity,
            ).where(models.AlertEventRow.report_id.in_(ids))
        )
    ]
    open_now = dict(
        session.execute(
            select(models.Alert.id, models.Alert.severity).where(
                models.Alert.integration_id == integration_id,
                models.Alert.status == AlertStatus.OPEN,
            )
        ).all()
    )
    counts = open_alerts_by_report(ids, events, open_now)
    return [
        TrendPoint(
            report_id=row.id,
            commit_sha=row.commit_sha,
            branch=row.branch,
            commit_timestamp=row.commit_timestamp,
            violations=row.violations,
            passed=row.passed,
            open_alerts=counts[row.id],
        )
        for row in reversed(reports)
    ]


@dataclass(frozen=True, slots=True)
class SparkPoint:
    commit_sha: str
    commit_timestamp: int
    violations: int
    passed: bool


def sparklines(
    session: Session, integration_ids: Sequence[str], limit: int = SPARKLINE_REPORTS
) -> dict[str, list[SparkPoint]]:
    """Each integration's last ``limit`` reports, oldest first: one statement
    of one index-ordered, limited select per integration shown."""
    if not integration_ids:
        return {}
    selects = [
        select(
            models.Report.integration_id,
            models.Report.commit_sha,
            models.Report.commit_timestamp,
            models.Report.violations,
            models.Report.passed,
            models.Report.id,
        )
        .where(models.Report.integration_id == integration_id)
        .order_by(models.Report.commit_timestamp.desc(), models.Report.id.desc())
        .limit(limit)
        .subquery()
        for integration_id in dict.fromkeys(integration_ids)
    ]
    rows = session.execute(union_all(*(select(sub) for sub in selects))).all()
    lines: dict[str, list[SparkPoint]] = {integration_id: [] for integration_id in integration_ids}
    for row in sorted(rows, key=lambda row: (row.commit_timestamp, row.id)):
        lines[row.integration_id].append(
            SparkPoint(row.commit_sha, row.commit_timestamp, row.violations, row.passed)
        )
    return lines


@dataclass(frozen=True, slots=True)
class RuleResolution:
    rule_id: str
    rule_name: str
    resolved: int
    mean_seconds: float


def _seconds_between(dialect: str) -> ColumnElement[float]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", models.Alert.resolved_at - models.Alert.opened_at), Float)
    # SQLite keeps times as text; julianday reads them (days, as a real).
    return (func.julianday(models.Alert.resolved_at) - func.julianday(models.Alert.opened_at)) * (
        86400.0
    )


def mean_time_to_resolve(
    session: Session,
    integration_id: str,
    *,
    now: datetime,
    window: timedelta = RESOLUTION_WINDOW,
    newest: int = RESOLUTIONS_COUNTED,
) -> list[RuleResolution]:
    """Per rule, the mean time from opened to resolved over the integration's
    ``newest`` resolutions inside the last ``window``; slowest first.

    The database reads those resolutions newest first from
    ``ix_alerts_resolved`` and stops at ``newest``, then aggregates them: the
    cost is the same whether the window holds ten resolutions or a million.
    """
    seconds = _seconds_between(session.get_bind().dialect.name)
    recent = (
        select(
            models.Alert.rule_id.label("rule_id"),
            models.Alert.rule_name.label("rule_name"),
            seconds.label("seconds"),
        )
        .where(
            models.Alert.integration_id == integration_id,
            models.Alert.resolved_at >= now - window,
        )
        .order_by(models.Alert.resolved_at.desc())
        .limit(newest)
        .subquery()
    )
    rows = session.execute(
        select(
            recent.c.rule_id,
            func.max(recent.c.rule_name),
            func.count(),
            func.avg(recent.c.seconds),
        ).group_by(recent.c.rule_id)
    ).all()
    resolutions = [
        RuleResolution(rule_id, rule_name, count, max(0.0, float(mean or 0.0)))
        for rule_id, rule_name, count, mean in rows
    ]
    return sorted(resolutions, key=lambda item: (-item.mean_seconds, item.rule_id))
