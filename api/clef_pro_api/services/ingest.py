"""Taking reports in: store, pick the HEAD, run the alert lifecycle and queue its
notifications, in one transaction.

Everything one submission changes happens under a row lock on its
integration, so concurrent submissions from several replicas are applied one
after the other: two can never open the same alert twice or lose a
resolution. The caller commits; an exception anywhere leaves nothing stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clef_pro.domain import lifecycle
from clef_pro.domain.config import IntegrationConfig
from clef_pro.domain.report import Report, content_digest
from clef_pro_api.services import outbox
from clef_pro_api.services.errors import NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """One alert event a HEAD report caused, as the notification pipeline needs it."""

    event: lifecycle.AlertEvent
    alert: models.Alert


@dataclass(slots=True)
class IngestResult:
    reports: list[models.Report]
    #: The report that became HEAD and drove the lifecycle, if any did.
    head: models.Report | None = None
    events: list[AppliedEvent] = field(default_factory=list)
    #: Outbox messages the HEAD's events queued, committed with the report.
    notifications: list[models.Notification] = field(default_factory=list)


def lock_integration(session: Session, integration_id: str) -> models.Integration:
    """Take the per-integration lock that serialises all of its ingestion."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None or integration.deleted_at is not None:
        raise NotFound(integration_id)
    return integration


def ingest(session: Session, integration_id: str, reports: Sequence[Report]) -> IngestResult:
    """Store ``reports`` (oldest first); only the last may move the HEAD.

    A report whose commit is already stored with the same content is a replay:
    it keeps its id and changes nothing, so a retry never notifies twice.
    """
    integration = lock_integration(session, integration_id)
    config = IntegrationConfig.model_validate(integration.config)
    existing = {
        row.commit_sha: row
        for row in session.scalars(
            select(models.Report).where(
                models.Report.integration_id == integration_id,
                models.Report.commit_sha.in_({report.commit_sha for report in reports}),
            )
        )
    }

    stored_before = set(existing)
    result = IngestResult(reports=[])
    last_changed = False
    for report in reports:
        row, last_changed = _store(session, integration, config, report, existing)
        result.reports.append(row)

    candidate = result.reports[-1]
    if (
        last_changed
        and config.tracks(candidate.branch)
        and _is_new_head(session, integration, candidate)
    ):
        now = utcnow()
        integration.head_report_id = candidate.id
        # A report arrived: the integration is not silent (expectReportsEvery).
        integration.last_head_at = now
        window = config.silent_after
        integration.silence_check_at = now + window if window is not None else None
        result.head = candidate
        result.events = _apply_lifecycle(
            session,
            integration,
            candidate,
            reports[-1],
            resubmitted=candidate.commit_sha in stored_before,
            now=now,
        )
        result.notifications = outbox.enqueue(
            session, integration, config, candidate, result.events, now=now
        )
    return result


def _store(
    session: Session,
    integration: models.Integration,
    config: IntegrationConfig,
    report: Report,
    existing: dict[str, models.Report],
) -> tuple[models.Report, bool]:
    body = report.stored_body(keep_ci_context=config.collection.ci_context)
    digest = content_digest(body)
    row = existing.get(report.commit_sha)
    if row is not None and row.digest == digest:
        return row, False
    if row is None:
        row = models.Report(id=models.new_id(), integration_id=integration.id)
        session.add(row)
        existing[report.commit_sha] = row
    row.commit_sha = report.commit_sha
    row.branch = report.branch
    row.commit_timestamp = report.commit_timestamp
    row.passed = report.summary.passed
    row.violations = report.summary.violations
    row.body = body
    row.digest = digest
    return row, True


def _is_new_head(
    session: Session, integration: models.Integration, candidate: models.Report
) -> bool:
    if integration.head_report_id is None or integration.head_report_id == candidate.id:
        return True
    head_timestamp = session.scalar(
        select(models.Report.commit_timestamp).where(models.Report.id == integration.head_report_id)
    )
    return head_timestamp is None or candidate.commit_timestamp >= head_timestamp


def _apply_lifecycle(
    session: Session,
    integration: models.Integration,
    row: models.Report,
    report: Report,
    *,
    resubmitted: bool,
    now: datetime,
) -> list[AppliedEvent]:
    open_alerts = {
        alert.id: alert
        for alert in session.scalars(
            select(models.Alert).where(
                models.Alert.integration_id == integration.id,
                models.Alert.status == lifecycle.AlertStatus.OPEN,
            )
        )
    }
    for alert in open_alerts.values():
        _end_expired_acknowledgement(alert, now)
    transitions = lifecycle.evaluate(
        (
            lifecycle.OpenAlert(
                alert.id, lifecycle.AlertKey(alert.rule_id, alert.scope), alert.acknowledged
            )
            for alert in open_alerts.values()
        ),
        report,
    )
    # Only a corrected resubmission of a commit can have events already.
    recorded = (
        {
            event.alert_id: event
            for event in session.scalars(
                select(models.AlertEventRow).where(models.AlertEventRow.report_id == row.id)
            )
        }
        if resubmitted
        else {}
    )
    applied: list[AppliedEvent] = []
    for transition in transitions:
        observation = transition.observation
        if transition.alert_id is None:
            assert observation is not None
            alert = models.Alert(
                id=models.new_id(),
                integration_id=integration.id,
                rule_id=transition.key.rule_id,
                scope=transition.key.scope,
                status=lifecycle.AlertStatus.OPEN,
                acknowledged=False,
                introduced_by_commit=row.commit_sha,
                opened_at=now,
            )
            session.add(alert)
        else:
            alert = open_alerts[transition.alert_id]
        if observation is not None:
            alert.rule_name = observation.rule_name
            alert.severity = observation.severity
            alert.message = observation.message
        if transition.event is lifecycle.AlertEvent.RESOLVED:
            alert.status = lifecycle.AlertStatus.RESOLVED
            alert.resolved_by_commit = row.commit_sha
            alert.resolved_at = now
        else:
            alert.last_seen_commit = row.commit_sha

        event = recorded.get(alert.id)
        if event is None:
            event = models.AlertEventRow(
                report_id=row.id, alert_id=alert.id, event=transition.event
            )
            session.add(event)
        elif transition.event is lifecycle.AlertEvent.RESOLVED:
            # A corrected resubmission of the HEAD resolved what it had reported.
            event.event = transition.event
        event.severity = alert.severity
        event.message = alert.message
        applied.append(AppliedEvent(lifecycle.AlertEvent(event.event), alert))
    return applied


def _end_expired_acknowledgement(alert: models.Alert, now: datetime) -> None:
    """An acknowledgement that ran out (``acknowledgeFor``) no longer silences."""
    state = lifecycle.AlertState(
        lifecycle.AlertStatus.OPEN, bool(alert.acknowledged), alert.acknowledged_until
    )
    if state.acknowledgement_expired(now):
        alert.acknowledged = False
        alert.acknowledged_until = None


def last_commit_sha(session: Session, integration_id: str) -> str | None:
    """The checkpoint the CLI backfills from: the newest report by commit time."""
    return session.scalar(
        select(models.Report.commit_sha)
        .where(models.Report.integration_id == integration_id)
        .order_by(models.Report.commit_timestamp.desc(), models.Report.received_at.desc())
        .limit(1)
    )
