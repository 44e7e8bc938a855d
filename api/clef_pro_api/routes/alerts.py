"""Alerts: acknowledging, the one thing a person does to an alert."""

from __future__ import annotations

from fastapi import APIRouter

from clef_pro_api import schemas
from clef_pro_api.deps import OutboxWakerDep, ReaderDep, RowIdPath, SessionDep
from clef_pro_api.errors import answers
from clef_pro_api.services import alerts, views

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=answers(401, 403, 503))


@router.post(
    "/{alert_id}/acknowledge",
    response_model=schemas.AlertView,
    responses=answers(400, 404, 409, 413, 422),
)
def acknowledge_alert(
    alert_id: RowIdPath,
    reader: ReaderDep,
    session: SessionDep,
    waker: OutboxWakerDep,
    body: schemas.AcknowledgeRequest | None = None,
) -> schemas.AlertView:
    """Stop notifications for an open alert, for ``acknowledgeFor`` or while it
    is open. It stays open and visible, and still counts as a violation.
    Idempotent: the first acknowledgement stands until it runs out."""
    duration = body.duration if body is not None else None
    alert = alerts.acknowledge(session, alert_id, by=reader.name, duration=duration)
    session.commit()
    waker()  # PagerDuty and Alertmanager channels hear of it
    return views.alert_view(alert)
