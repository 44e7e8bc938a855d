"""What happens between reports, found by a periodic check in every replica.

Three things change with time alone, and each is due at a moment kept on a
row, so the check is a few indexed reads when nothing is due:

- an acknowledgement for a while (``acknowledgeFor``) runs out: the alert is
  no longer acknowledged and notifies again (``alerts.acknowledged_until``);
- an integration with ``expectReportsEvery`` goes quiet: the integration-level
  alert ``clef-pro/silent`` opens, and recurs for every further window of
  silence, until the next report resolves it (``integrations.silence_check_at``);
- Alertmanager channels get every open alert pushed again before the
  ``endsAt`` of the last push passes (``integrations.resend_at``).

Each integration is handled under the same row lock ingestion takes,
claimed with ``SKIP LOCKED``, so replicas checking at once split the work and
never race a report of the same integration. The decisions are the domain's
(:mod:`clef_pro.domain.lifecycle`); this module only moves rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from clef_pro.domain import lifecycle
from clef_pro.domain.config import AlertmanagerChannel, IntegrationConfig
from clef_pro.domain.lifecycle import AlertEvent, AlertStatus
from clef_pro.domain.severity import Severity
from clef_pro_api.services import outbox
from clef_pro_api.storage import models

#: Integrations handled per kind of check and round; the rest wait a round.
BATCH = 100
#: Severity of the silent alert: a governance tool that went quiet is a warning.
SILENT_SEVERITY = Severity.WARNING


@dataclass(slots=True)
class CheckResult:
    expired_acknowledgements: int = 0
    silent_alerts: int = 0
    refreshes: int = 0
    notifications: list[models.Notification] = field(default_factory=list)


def run_checks(session: Session, *, now: datetime, batch: int = BATCH) -> CheckResult:
    """One round of every check, in the caller's transaction."""
    result = CheckResult()
    _expired_acknowledgements(session, now, batch, result)
    _silent_integrations(session, now, batch, result)
    _alertmanager_refreshes(session, now, batch, result)
    return result


def _claim(session: Session, ids: Sequence[str]) -> list[models.Integration]:
    """The integrations of ``ids`` that no one else holds, locked as ingest locks them."""
    if not ids:
        return []
    return list(
        session.scalars(
            select(models.Integration)
            .where(models.Integration.id.in_(ids), models.Integration.deleted_at.is_(None))
            .order_by(models.Integration.id)
            .with_for_update(skip_locked=True)
        )
    )


def _config(integration: models.Integration) -> IntegrationConfig | None:
    try:
        return IntegrationConfig.model_validate(integration.config)
    except ValidationError:
        return None


def _expired_acknowledgements(
    session: Session, now: datetime, batch: int, result: CheckResult
) -> None:
    due = session.execute(
        select(models.Alert.integration_id, models.Alert.id)
        .where(
            models.Alert.acknowledged_until.is_not(None),
            models.Alert.acknowledged_until <= now,
            models.Alert.status == AlertStatus.OPEN,
        )
        .order_by(models.Alert.acknowledged_until)
        .limit(batch)
    ).all()
    by_integration: dict[str, list[str]] = defaultdict(list)
    for integration_id, alert_id in due:
        by_integration[integration_id].append(alert_id)
    for integration in _claim(session, list(by_integration)):
        alerts = session.scalars(
            select(models.Alert).where(models.Alert.id.in_(by_integration[integration.id]))
        ).all()
        changes = []
        for alert in alerts:
            state = lifecycle.AlertState(
                AlertStatus(alert.status), bool(alert.acknowledged), alert.acknowledged_until
            )
            if alert.status != AlertStatus.OPEN or not state.acknowledgement_expired(now):
                continue  # a report got there first
            alert.acknowledged = False
            alert.acknowledged_until = None
            changes.append(
                outbox.AlertChange(AlertEvent.RECURRING, alert, acknowledgement_expired=True)
            )
        config = _config(integration)
        result.expired_acknowledgements += len(changes)
        if changes and config is not None:
            result.notifications += outbox.enqueue(
                session, integration, config, None, changes, now=now
            )


def _silent_integrations(session: Session, now: datetime, batch: int, result: CheckResult) -> None:
    due = session.scalars(
        select(models.Integration.id)
        .where(
            models.Integration.silence_check_at.is_not(None),
            models.Integration.silence_check_at <= now,
            models.Integration.deleted_at.is_(None),
        )
        .order_by(models.Integration.silence_check_at)
        .limit(batch)
    ).all()
    for integration in _claim(session, due):
        config = _config(integration)
        window = config.silent_after if config is not None else None
        silent = session.scalars(
            select(models.Alert).where(
                models.Alert.integration_id == integration.id,
                models.Alert.rule_id == lifecycle.SILENT_RULE_ID,
                models.Alert.status == AlertStatus.OPEN,
            )
        ).one_or_none()
        check = lifecycle.check_silence(
            window=window,
            last_report_at=integration.last_head_at or integration.created_at,
            silent_alert_open=silent is not None,
            now=now,
        )
        integration.silence_check_at = check.next_check
        if check.event is None or config is None:
            continue
        if silent is None:
            silent = models.Alert(
                id=models.new_id(),
                integration_id=integration.id,
                rule_id=lifecycle.SILENT_RULE_ID,
                scope=lifecycle.SILENT_SCOPE,
                status=AlertStatus.OPEN,
                acknowledged=False,
                introduced_by_commit=_head_commit(session, integration),
                opened_at=now,
            )
            session.add(silent)
        silent.rule_name = lifecycle.SILENT_RULE_NAME
        silent.severity = SILENT_SEVERITY
        silent.message = check.message
        silent.last_seen_commit = silent.introduced_by_commit
        result.silent_alerts += 1
        result.notifications += outbox.enqueue(
            session, integration, config, None, [outbox.AlertChange(check.event, silent)], now=now
        )


def _head_commit(session: Session, integration: models.Integration) -> str:
    if integration.head_report_id is None:
        return ""
    return (
        session.scalar(
            select(models.Report.commit_sha).where(models.Report.id == integration.head_report_id)
        )
        or ""
    )


def _alertmanager_refreshes(
    session: Session, now: datetime, batch: int, result: CheckResult
) -> None:
    due = session.scalars(
        select(models.Integration.id)
        .where(
            models.Integration.resend_at.is_not(None),
            models.Integration.resend_at <= now,
            models.Integration.deleted_at.is_(None),
        )
        .order_by(models.Integration.resend_at)
        .limit(batch)
    ).all()
    for integration in _claim(session, due):
        integration.resend_at = None
        config = _config(integration)
        channels = (
            [c for c in config.channels if isinstance(c, AlertmanagerChannel)]
            if config is not None
            else []
        )
        if config is None or not channels:
            continue
        open_alerts = session.scalars(
            select(models.Alert).where(
                models.Alert.integration_id == integration.id,
                models.Alert.status == AlertStatus.OPEN,
            )
        ).all()
        if not open_alerts:
            continue  # nothing to keep alive; the next push sets a new time
        queued = outbox.enqueue(
            session,
            integration,
            config,
            None,
            [outbox.AlertChange(AlertEvent.RECURRING, alert) for alert in open_alerts],
            now=now,
            channels=channels,
        )
        result.refreshes += len(queued)
        result.notifications += queued
