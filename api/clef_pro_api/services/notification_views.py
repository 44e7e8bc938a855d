"""The read API over the outbox: each notification's state, per integration,
per alert and per channel, and what this replica delivers at all.

Nothing here shows where a message went beyond the channel's name and type:
no addresses of webhooks, no signing keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from clef_pro.domain.notify import DeliveryStatus
from clef_pro_api import metrics, schemas
from clef_pro_api.notifications.registry import BackendState
from clef_pro_api.services import outbox
from clef_pro_api.services.errors import InvalidParameter, NotFound
from clef_pro_api.services.paging import decode_cursor, encode_cursor
from clef_pro_api.services.views import get_integration
from clef_pro_api.storage import models


def delivery_states(states: Sequence[BackendState]) -> list[schemas.DeliveryState]:
    return [
        schemas.DeliveryState(
            channel_type=state.channel_type,
            delivery="enabled" if state.enabled else "disabled",
            reason=state.reason,
        )
        for state in states
    ]


def _views(
    session: Session, rows: Sequence[models.Notification], states: Sequence[BackendState]
) -> list[schemas.NotificationView]:
    enabled = {state.channel_type for state in states if state.enabled}
    alerts: dict[str, list[schemas.NotifiedAlert]] = defaultdict(list)
    if rows:
        for link, rule_id, scope in session.execute(
            select(models.NotificationAlert, models.Alert.rule_id, models.Alert.scope)
            .join(models.Alert, models.Alert.id == models.NotificationAlert.alert_id)
            .where(models.NotificationAlert.notification_id.in_([row.id for row in rows]))
            .order_by(models.NotificationAlert.notification_id, models.NotificationAlert.position)
        ):
            alerts[link.notification_id].append(
                schemas.NotifiedAlert(
                    alert_id=link.alert_id,
                    event=link.event,
                    severity=link.severity,
                    rule_id=rule_id,
                    scope=scope,
                )
            )
    return [
        schemas.NotificationView(
            id=row.id,
            integration_id=row.integration_id,
            report_id=row.report_id,
            commit_sha=(row.payload.get("report") or {}).get("commitSha", ""),
            channel=schemas.NotificationChannelRef(name=row.channel_name, type=row.channel_type),
            status=row.status,
            delivery="enabled" if row.channel_type in enabled else "disabled",
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at
            if row.status in (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
            else None,
            created_at=row.created_at,
            sent_at=row.sent_at,
            message_id=row.message_id,
            alerts=alerts[row.id],
        )
        for row in rows
    ]


def list_notifications(
    session: Session,
    integration_id: str,
    states: Sequence[BackendState],
    *,
    status: DeliveryStatus | None,
    channel: str | None,
    limit: int,
    cursor: str | None,
) -> schemas.NotificationPage:
    """An integration's notifications, newest first, keyset-paged."""
    get_integration(session, integration_id)
    query = select(models.Notification).where(models.Notification.integration_id == integration_id)
    if status is not None:
        query = query.where(models.Notification.status == status)
    if channel is not None:
        query = query.where(models.Notification.channel_name == channel)
    if cursor is not None:
        created_at, notification_id = _decode_cursor(cursor)
        query = query.where(
            tuple_(models.Notification.created_at, models.Notification.id)
            < (created_at, notification_id)
        )
    rows = session.scalars(
        query.order_by(models.Notification.created_at.desc(), models.Notification.id.desc()).limit(
            limit + 1
        )
    ).all()
    page = rows[:limit]
    return schemas.NotificationPage(
        items=_views(session, page, states),
        next_cursor=encode_cursor(page[-1].created_at.isoformat(), page[-1].id)
        if len(rows) > limit
        else None,
        delivery=delivery_states(states),
    )


def notification_detail(
    session: Session, notification_id: str, states: Sequence[BackendState]
) -> schemas.NotificationDetail:
    row = session.get(models.Notification, notification_id)
    if row is None:
        raise NotFound(notification_id)
    (view,) = _views(session, [row], states)
    attempts = session.scalars(
        select(models.NotificationAttempt)
        .where(models.NotificationAttempt.notification_id == notification_id)
        .order_by(models.NotificationAttempt.id)
    ).all()
    return schemas.NotificationDetail(
        **view.model_dump(),
        attempt_history=[
            schemas.NotificationAttemptView.model_validate(attempt, from_attributes=True)
            for attempt in attempts
        ],
    )


#: Notifications per page of one alert's, unless asked otherwise.
ALERT_NOTIFICATIONS_PAGE: Final = 50


def alert_notifications(
    session: Session,
    alert_id: str,
    states: Sequence[BackendState],
    *,
    limit: int = ALERT_NOTIFICATIONS_PAGE,
    cursor: str | None = None,
) -> schemas.AlertNotifications:
    """A page of the notifications that told of one alert, newest first, and
    per channel where the newest of them stands (over all of them)."""
    if session.get(models.Alert, alert_id) is None:
        raise NotFound(alert_id)
    query = (
        select(models.Notification)
        .join(
            models.NotificationAlert,
            models.NotificationAlert.notification_id == models.Notification.id,
        )
        .where(models.NotificationAlert.alert_id == alert_id)
    )
    if cursor is not None:
        created_at, notification_id = _decode_cursor(cursor)
        query = query.where(
            tuple_(models.Notification.created_at, models.Notification.id)
            < (created_at, notification_id)
        )
    rows = session.scalars(
        query.order_by(models.Notification.created_at.desc(), models.Notification.id.desc()).limit(
            limit + 1
        )
    ).all()
    page = rows[:limit]
    return schemas.AlertNotifications(
        alert_id=alert_id,
        channels=channel_states(session, [alert_id]).get(alert_id, []),
        items=_views(session, page, states),
        next_cursor=encode_cursor(page[-1].created_at.isoformat(), page[-1].id)
        if len(rows) > limit
        else None,
    )


def channel_states(
    session: Session, alert_ids: Sequence[str]
) -> dict[str, list[schemas.ChannelNotificationSummary]]:
    """Per alert, each channel told of it: its newest notification's status and
    error, and how many of its notifications are in each status. One statement
    for a whole page of alerts (never one per alert): per (alert, channel,
    status) one row, marked when it holds the channel's newest notification."""
    if not alert_ids:
        return {}
    link = models.NotificationAlert
    note = models.Notification
    newest_first = (note.created_at.desc(), note.id.desc())
    ranked = (
        select(
            link.alert_id,
            note.channel_name,
            note.channel_type,
            note.status,
            note.last_error,
            note.created_at,
            func.row_number()
            .over(partition_by=(link.alert_id, note.channel_name), order_by=newest_first)
            .label("newest"),
            func.row_number()
            .over(
                partition_by=(link.alert_id, note.channel_name, note.status), order_by=newest_first
            )
            .label("newest_of_status"),
            func.count()
            .over(partition_by=(link.alert_id, note.channel_name, note.status))
            .label("of_status"),
        )
        .join(note, note.id == link.notification_id)
        .where(link.alert_id.in_(list(dict.fromkeys(alert_ids))))
        .subquery()
    )
    rows = session.execute(
        select(ranked).where(ranked.c.newest_of_status == 1).order_by(ranked.c.created_at.desc())
    ).all()
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    newest: list[Any] = []  # the channels' newest notifications, newest first
    for row in rows:
        counts[(row.alert_id, row.channel_name)][row.status] = row.of_status
        if row.newest == 1:
            newest.append(row)
    by_alert: dict[str, list[schemas.ChannelNotificationSummary]] = defaultdict(list)
    for row in newest:
        by_alert[row.alert_id].append(
            schemas.ChannelNotificationSummary(
                channel=schemas.NotificationChannelRef(
                    name=row.channel_name, type=row.channel_type
                ),
                latest_status=row.status,
                latest_error=row.last_error,
                counts=counts[(row.alert_id, row.channel_name)],
            )
        )
    return dict(by_alert)


def status(
    session: Session, states: Sequence[BackendState], *, now: datetime
) -> schemas.NotificationStatus:
    backlog = outbox.backlog(session, now=now)
    counts = backlog.counts
    return schemas.NotificationStatus(
        delivery=delivery_states(states),
        backlog=schemas.NotificationBacklog(
            pending=counts[DeliveryStatus.PENDING],
            sending=counts[DeliveryStatus.SENDING],
            retrying=counts[DeliveryStatus.RETRYING],
            dead=counts[DeliveryStatus.DEAD],
            oldest_pending_seconds=backlog.oldest_undelivered_seconds,
        ),
    )


def publish_backlog(session: Session, *, now: datetime) -> None:
    """Set the backlog gauges from the database (at scrape time: the outbox is
    shared, so every replica reports the same, current figures)."""
    backlog = outbox.backlog(session, now=now)
    for state, count in backlog.counts.items():
        metrics.NOTIFICATION_BACKLOG.labels(state.value).set(count)
    metrics.NOTIFICATION_OLDEST_PENDING_SECONDS.set(backlog.oldest_undelivered_seconds or 0.0)


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    created_at, notification_id = decode_cursor(cursor, str)
    try:
        parsed = datetime.fromisoformat(str(created_at))
    except ValueError:
        raise InvalidParameter("cursor", "is not one this API returned") from None
    if parsed.tzinfo is None:
        raise InvalidParameter("cursor", "is not one this API returned")
    return parsed, notification_id
