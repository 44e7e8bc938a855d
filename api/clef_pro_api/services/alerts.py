"""Acknowledging an alert: the one human action, and it only silences notifications."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clef_pro.domain.lifecycle import AlertState, AlertStatus, InvalidTransition
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow


def acknowledge(
    session: Session, alert_id: str, by: str, *, integration_id: str | None = None
) -> models.Alert:
    """Idempotent: a second acknowledgement keeps the first one's who and when.

    With ``integration_id``, an alert of another integration is not found."""
    alert = session.execute(
        select(models.Alert).where(models.Alert.id == alert_id).with_for_update()
    ).scalar_one_or_none()
    if alert is None or (integration_id is not None and alert.integration_id != integration_id):
        raise NotFound(alert_id)
    if alert.acknowledged:
        return alert
    try:
        AlertState(AlertStatus(alert.status), alert.acknowledged).on_acknowledge()
    except InvalidTransition as error:
        raise Conflict(str(error)) from None
    alert.acknowledged = True
    alert.acknowledged_by = by
    alert.acknowledged_at = utcnow()
    return alert
