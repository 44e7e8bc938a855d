"""Acknowledging an alert: the one human action, and it only silences notifications.

An acknowledgement may be for a while (``acknowledgeFor``): when it runs out
the alert notifies again. Channels that mirror alert state (PagerDuty,
Alertmanager) are told of the acknowledgement itself, in the same
transaction, so the incident there is acknowledged too.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clef_pro.domain.config import IntegrationConfig
from clef_pro.domain.lifecycle import AlertEvent, AlertState, AlertStatus, InvalidTransition
from clef_pro_api.services import outbox
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.services.ingest import lock_integration
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow


def acknowledge(
    session: Session,
    alert_id: str,
    by: str,
    *,
    integration_id: str | None = None,
    duration: timedelta | None = None,
) -> models.Alert:
    """Idempotent: a second acknowledgement keeps the first one's who, when and
    how long. With ``integration_id``, an alert of another integration is not found."""
    alert = session.get(models.Alert, alert_id)
    if alert is None or (integration_id is not None and alert.integration_id != integration_id):
        raise NotFound(alert_id)
    # Ingest's lock, then the alert's: an acknowledgement and a report of the
    # same integration never interleave their notifications.
    integration = lock_integration(session, alert.integration_id)
    alert = session.execute(
        select(models.Alert).where(models.Alert.id == alert_id).with_for_update()
    ).scalar_one()
    now = utcnow()
    state = AlertState(
        AlertStatus(alert.status), bool(alert.acknowledged), alert.acknowledged_until
    )
    if state.is_acknowledged(now):
        return alert
    try:
        acknowledged = state.on_acknowledgement_expired().on_acknowledge(now, duration)
    except InvalidTransition as error:
        raise Conflict(str(error)) from None
    alert.acknowledged = True
    alert.acknowledged_by = by
    alert.acknowledged_at = now
    alert.acknowledged_until = acknowledged.acknowledged_until
    config = IntegrationConfig.model_validate(integration.config)
    outbox.enqueue(
        session,
        integration,
        config,
        None,
        [outbox.AlertChange(AlertEvent.ACKNOWLEDGED, alert)],
        now=now,
        channels=[channel for channel in config.channels if channel.mirrors_alert_state],
    )
    return alert
