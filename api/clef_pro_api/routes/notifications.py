"""The read API of notifications: state per integration, per alert, per channel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clef_pro.domain.notify import DeliveryStatus
from clef_pro_api import schemas
from clef_pro_api.deps import (
    ChannelQuery,
    IntegrationIdPath,
    ReaderDep,
    RowIdPath,
    SessionDep,
    SettingsDep,
)
from clef_pro_api.errors import answers
from clef_pro_api.notifications.registry import backend_states
from clef_pro_api.services import notification_views
from clef_pro_api.storage.models import utcnow

router = APIRouter(prefix="/api/v1", tags=["notifications"], responses=answers(401, 403, 503))


@router.get("/notifications/status", response_model=schemas.NotificationStatus)
def get_status(
    _reader: ReaderDep, session: SessionDep, settings: SettingsDep
) -> schemas.NotificationStatus:
    """What this replica delivers (``delivery: disabled`` says why not) and what waits."""
    return notification_views.status(session, backend_states(settings), now=utcnow())


@router.get(
    "/notifications/{notification_id}",
    response_model=schemas.NotificationDetail,
    responses=answers(404, 422),
)
def get_notification(
    notification_id: RowIdPath, _reader: ReaderDep, session: SessionDep, settings: SettingsDep
) -> schemas.NotificationDetail:
    """One notification with every delivery attempt (time and error)."""
    return notification_views.notification_detail(
        session, notification_id, backend_states(settings)
    )


@router.get(
    "/integrations/{integration_id}/notifications",
    response_model=schemas.NotificationPage,
    responses=answers(404, 422),
)
def list_notifications(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    *,
    status: DeliveryStatus | None = None,
    channel: ChannelQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.NotificationPage:
    """An integration's notifications, newest first: state, attempts, last
    error, channel and the alerts each told of."""
    return notification_views.list_notifications(
        session,
        integration_id,
        backend_states(settings),
        status=status,
        channel=channel,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/alerts/{alert_id}/notifications",
    response_model=schemas.AlertNotifications,
    responses=answers(404, 422),
)
def alert_notifications(
    alert_id: RowIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    settings: SettingsDep,
    *,
    limit: Annotated[int, Query(ge=1, le=500)] = notification_views.ALERT_NOTIFICATIONS_PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.AlertNotifications:
    """The notifications that told of this alert, newest first a page at a
    time, and where each channel stands."""
    return notification_views.alert_notifications(
        session, alert_id, backend_states(settings), limit=limit, cursor=cursor
    )
