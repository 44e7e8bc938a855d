"""Alerts: acknowledging, the one thing a person does to an alert."""

from __future__ import annotations

from fastapi import APIRouter

from clef_pro_api import schemas
from clef_pro_api.deps import ReaderDep, SessionDep
from clef_pro_api.services import alerts, views

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.post("/{alert_id}/acknowledge", response_model=schemas.AlertView)
def acknowledge_alert(alert_id: str, reader: ReaderDep, session: SessionDep) -> schemas.AlertView:
    """Stop notifications for an open alert. It stays open and visible, and
    still counts as a violation. Idempotent: the first acknowledgement stands."""
    alert = alerts.acknowledge(session, alert_id, by=reader.name)
    session.commit()
    return views.alert_view(alert)
