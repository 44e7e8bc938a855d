"""One alert's timeline: opened, each report it recurred on, acknowledged,
the notifications each report sent about it, resolved. Newest first, a page
at a time: an alert can recur on thousands of reports, and a page costs the
same whichever it is (``ix_alert_events_timeline``; notifications found by
the page's reports, through their unique (report, channel) index).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from clef_pro_api.services.paging import decode_time_cursor, encode_cursor
from clef_pro_api.storage import models

#: Entries per page of an alert's timeline.
TIMELINE_PAGE: Final = 25


@dataclass(frozen=True, slots=True)
class Notified:
    channel_name: str
    channel_type: str
    status: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    #: ``opened``, ``recurring``, ``resolved`` (a report did it) or ``acknowledged``.
    kind: str
    at: datetime
    commit_sha: str | None = None
    branch: str | None = None
    severity: str | None = None
    message: str | None = None
    by: str | None = None
    notified: list[Notified] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimelinePage:
    entries: list[TimelineEntry]
    #: The cursor of the next (older) page, if there is one.
    next_cursor: str | None


def alert_timeline(
    session: Session, alert: models.Alert, *, cursor: str | None, limit: int = TIMELINE_PAGE
) -> TimelinePage:
    query = (
        select(
            models.AlertEventRow.report_id,
            models.AlertEventRow.event,
            models.AlertEventRow.severity,
            models.AlertEventRow.message,
            models.AlertEventRow.created_at,
            models.Report.commit_sha,
            models.Report.branch,
        )
        .join(models.Report, models.Report.id == models.AlertEventRow.report_id)
        .where(models.AlertEventRow.alert_id == alert.id)
    )
    newest: datetime | None = None
    if cursor is not None:
        newest, report_id = decode_time_cursor(cursor)
        query = query.where(
            tuple_(models.AlertEventRow.created_at, models.AlertEventRow.report_id)
            < (newest, report_id)
        )
    rows = session.execute(
        query.order_by(
            models.AlertEventRow.created_at.desc(), models.AlertEventRow.report_id.desc()
        ).limit(limit + 1)
    ).all()
    page, more = rows[:limit], len(rows) > limit

    notified: dict[str, list[Notified]] = defaultdict(list)
    if page:
        for about, name, kind, status in session.execute(
            select(
                models.Notification.report_id,
                models.Notification.channel_name,
                models.Notification.channel_type,
                models.Notification.status,
            )
            .join(
                models.NotificationAlert,
                models.NotificationAlert.notification_id == models.Notification.id,
            )
            .where(
                models.Notification.report_id.in_([row.report_id for row in page]),
                models.NotificationAlert.alert_id == alert.id,
            )
            .order_by(models.Notification.channel_name)
        ):
            if about is not None:
                notified[about].append(Notified(name, kind, status))

    entries = [
        TimelineEntry(
            kind=row.event,
            at=row.created_at,
            commit_sha=row.commit_sha,
            branch=row.branch,
            severity=row.severity,
            message=row.message,
            notified=notified.get(row.report_id, []),
        )
        for row in page
    ]
    acknowledged = alert.acknowledged_at
    if acknowledged is not None:
        # On the page whose span of time holds it.
        after_newest = newest is None or acknowledged < newest
        before_oldest = not more or (page and acknowledged >= page[-1].created_at)
        if after_newest and before_oldest:
            entries.append(
                TimelineEntry(kind="acknowledged", at=acknowledged, by=alert.acknowledged_by)
            )
            entries.sort(key=lambda entry: entry.at, reverse=True)
    last = page[-1] if more else None
    return TimelinePage(
        entries=entries,
        next_cursor=encode_cursor(last.created_at.isoformat(), last.report_id) if last else None,
    )
