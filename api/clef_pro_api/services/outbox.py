"""The notification outbox: written with the report, claimed and settled by senders.

Three short transactions make the whole life of a message:

1. :func:`enqueue` runs inside the report's ingest transaction. The messages a
   report causes are committed with it or not at all, so a ``200`` to the CLI
   means they will be delivered and a crash right after loses nothing.
2. :func:`claim_due` takes a batch of due messages with ``SELECT ... FOR
   UPDATE SKIP LOCKED`` and marks them ``sending`` under a lease: replicas
   claiming at once each get different rows, and a replica that dies mid-send
   leaves claims that the others take over when the lease ends.
3. :func:`settle` records attempts' outcomes: sent, retrying (exponential
   backoff with full jitter) or dead. Only the holder of a claim can settle it.

Sending happens between 2 and 3, outside any transaction. A crash after the
destination accepted a message and before step 3 sends it once more after the
lease, with the same Message-ID: delivery is at-least-once.

On SQLite (the embedded default) ``FOR UPDATE SKIP LOCKED`` is left out by
SQLAlchemy; every transaction there starts with ``BEGIN IMMEDIATE`` (see
``storage/db.py``), which serialises claims just as well for one process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from clef_pro.domain import notify
from clef_pro.domain.config import AlertmanagerChannel, AnyChannel, IntegrationConfig
from clef_pro.domain.lifecycle import AlertEvent, AlertState, AlertStatus
from clef_pro.domain.notify import AlertNotice, DeliveryStatus, Digest, GiveUp, RetryPolicy
from clef_pro.domain.severity import Severity
from clef_pro_api.storage import models

#: Recorded for an attempt whose sender vanished (crash, kill) while it held the claim.
LEASE_EXPIRED = (
    "the sender stopped before it recorded an outcome (claim expired); "
    "the message may have been delivered"
)
#: Channel types whose messages are delivered one at a time, in order.
ORDERED_CHANNEL_TYPES = ("pagerduty", "alertmanager")
#: Longest error text kept per attempt.
MAX_ERROR_LENGTH = 1000


class AlertFields(Protocol):
    """What a message says of an alert: a stored ``models.Alert``, or the
    plain record ingestion keeps of one (it writes with Core statements)."""

    @property
    def id(self) -> str: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def rule_name(self) -> str: ...
    @property
    def scope(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def acknowledged(self) -> bool: ...
    @property
    def acknowledged_by(self) -> str | None: ...
    @property
    def acknowledged_until(self) -> datetime | None: ...
    @property
    def introduced_by_commit(self) -> str: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def notified_at(self) -> dict[str, str] | None: ...


class AlertEventSource(Protocol):
    """One alert event of the report being ingested (ingest's ``AppliedEvent``)."""

    @property
    def event(self) -> AlertEvent: ...

    @property
    def alert(self) -> AlertFields: ...


@dataclass(frozen=True, slots=True)
class AlertChange:
    """Something that happened to an alert between reports: an acknowledgement,
    its expiry, a check of a silent integration, an Alertmanager refresh."""

    event: AlertEvent
    alert: models.Alert
    acknowledgement_expired: bool = False


def last_notified(alert: AlertFields) -> dict[str, datetime]:
    return {name: datetime.fromisoformat(at) for name, at in (alert.notified_at or {}).items()}


def _notice(source: AlertEventSource, now: datetime) -> AlertNotice:
    alert = source.alert
    state = AlertState(
        AlertStatus(alert.status), bool(alert.acknowledged), alert.acknowledged_until
    )
    # As of this transaction: acknowledging silences every later report.
    acknowledged = state.is_acknowledged(now)
    return AlertNotice(
        alert_id=alert.id,
        event=source.event,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name,
        scope=alert.scope,
        severity=Severity(alert.severity),
        message=alert.message,
        acknowledged=acknowledged,
        introduced_by_commit=alert.introduced_by_commit,
        opened_at=alert.opened_at,
        acknowledged_by=alert.acknowledged_by if acknowledged else None,
        acknowledgement_expired=isinstance(source, AlertChange) and source.acknowledgement_expired,
        last_notified=last_notified(alert),
    )


@dataclass(frozen=True, slots=True)
class ReportRef:
    """The report a message is about."""

    id: str
    commit_sha: str
    branch: str


@dataclass(slots=True)
class Planned:
    """The rows one enqueue writes, for the caller to insert its own way."""

    #: Columns of ``notifications`` rows.
    notifications: list[dict[str, Any]] = field(default_factory=list)
    #: Columns of ``notification_alerts`` rows.
    links: list[dict[str, Any]] = field(default_factory=list)
    #: Alert id -> the ``notified_at`` it has now (only alerts that changed).
    notified_at: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The integration's next Alertmanager refresh, if this moved it earlier.
    resend_at: datetime | None = None


def plan(
    *,
    integration_id: str,
    integration_name: str,
    resend_at: datetime | None,
    config: IntegrationConfig,
    report: ReportRef | None,
    events: Sequence[AlertEventSource],
    already: Collection[str],
    now: datetime,
    channels: Sequence[AnyChannel] | None = None,
) -> Planned:
    """What :func:`enqueue` writes, as rows: no session, no I/O.

    ``already`` names the channels that have a message for this report.
    """
    planned = Planned()
    chosen = config.channels if channels is None else channels
    if not events or not chosen:
        return planned
    notices = [_notice(source, now) for source in events]
    stamps: dict[str, dict[str, str]] = {}
    for channel in chosen:
        if channel.name in already:
            continue
        selected = notify.alerts_for_channel(notices, channel, now)
        if not selected:
            continue
        digest = Digest(
            integration_id=integration_id,
            integration_name=integration_name,
            report_id=report.id if report is not None else None,
            commit_sha=report.commit_sha if report is not None else "",
            branch=report.branch if report is not None else "",
            alerts=selected,
        )
        notification_id = models.new_id()
        planned.notifications.append(
            {
                "id": notification_id,
                "integration_id": integration_id,
                "report_id": report.id if report is not None else None,
                "channel_name": channel.name,
                "channel_type": channel.type,
                "payload": digest.to_payload(),
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
        )
        planned.links.extend(
            {
                "notification_id": notification_id,
                "alert_id": notice.alert_id,
                "event": notice.event.value,
                "severity": notice.severity.value,
                "position": position,
            }
            for position, notice in enumerate(selected)
        )
        for notice in selected:
            if notify.counts_as_notified(notice):
                stamps.setdefault(notice.alert_id, {})[channel.name] = now.isoformat()
        if isinstance(channel, AlertmanagerChannel):
            due = now + channel.resend_every
            current = planned.resend_at or resend_at
            if current is None or due < current:
                planned.resend_at = due
    for source in events:
        stamp = stamps.get(source.alert.id)
        if stamp:
            planned.notified_at[source.alert.id] = {**(source.alert.notified_at or {}), **stamp}
    return planned


def enqueue(
    session: Session,
    integration: models.Integration,
    config: IntegrationConfig,
    report: models.Report | None,
    events: Sequence[AlertChange],
    *,
    now: datetime | None = None,
    channels: Sequence[AnyChannel] | None = None,
) -> list[models.Notification]:
    """Queue one message per channel that the alert events concern.

    Called in the transaction that changed the alerts, under the
    integration's lock: for what happens between reports with ``report``
    ``None`` (ingestion plans its rows with :func:`plan` and writes them with
    the report). A channel that already has a message for this report (a
    changed resubmission of the same commit) gets no second one. Each channel
    told of an opened or recurring alert is stamped on the alert row
    (``notified_at``), which repeat intervals count from: a row the caller
    already holds, so it costs no extra query.
    """
    chosen = config.channels if channels is None else channels
    if not events or not chosen:
        return []
    now = now or models.utcnow()
    already = (
        set(
            session.scalars(
                select(models.Notification.channel_name).where(
                    models.Notification.report_id == report.id
                )
            )
        )
        if report is not None
        else set()
    )
    planned = plan(
        integration_id=integration.id,
        integration_name=integration.display_name,
        resend_at=integration.resend_at,
        config=config,
        report=ReportRef(report.id, report.commit_sha, report.branch) if report else None,
        events=events,
        already=already,
        now=now,
        channels=channels,
    )
    queued = [models.Notification(**columns) for columns in planned.notifications]
    for row in queued:
        session.add(row)
    session.add_all(models.NotificationAlert(**columns) for columns in planned.links)
    if planned.resend_at is not None:
        integration.resend_at = planned.resend_at
    for source in events:
        stamped = planned.notified_at.get(source.alert.id)
        if stamped is not None:
            source.alert.notified_at = stamped
    return queued


@dataclass(frozen=True, slots=True)
class Claim:
    """A message a sender now holds: everything it needs to deliver it."""

    notification_id: str
    token: str
    #: The attempt this claim is (1 for the first).
    attempt: int
    claimed_at: datetime
    created_at: datetime
    channel_type: str
    channel_name: str
    message_id: str
    digest: Digest
    #: ``None`` when the channel is no longer configured (the message cannot go out).
    channel: AnyChannel | None


def claim_due(
    session: Session,
    *,
    channel_types: Collection[str],
    limit: int,
    lease_seconds: float,
    sender_address: str | None,
    now: datetime,
) -> list[Claim]:
    """Claim up to ``limit`` due messages of ``channel_types`` for one sender."""
    if not channel_types:
        return []
    earlier = aliased(models.Notification)
    # Channels that mirror alert state must hear of a trigger before its
    # acknowledgement and its resolution: one message at a time, oldest first.
    in_order = ~(
        select(earlier.id)
        .where(
            earlier.integration_id == models.Notification.integration_id,
            earlier.channel_name == models.Notification.channel_name,
            earlier.status.in_(notify.UNDELIVERED),
            earlier.created_at < models.Notification.created_at,
        )
        .exists()
    )
    rows = session.scalars(
        select(models.Notification)
        .where(
            models.Notification.status.in_(notify.UNDELIVERED),
            models.Notification.next_attempt_at <= now,
            models.Notification.channel_type.in_(channel_types),
            or_(models.Notification.channel_type.not_in(ORDERED_CHANNEL_TYPES), in_order),
        )
        .order_by(models.Notification.next_attempt_at, models.Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return []
    configs = _configs(session, {row.integration_id for row in rows})
    token = str(uuid.uuid4())
    lease_ends = now + timedelta(seconds=lease_seconds)
    claims: list[Claim] = []
    for row in rows:
        if row.status == DeliveryStatus.SENDING:
            session.add(_attempt(row.id, row.attempts, row.updated_at, LEASE_EXPIRED, now))
        row.attempts += 1
        row.status = DeliveryStatus.SENDING
        row.claim_token = token
        row.next_attempt_at = lease_ends
        # The claim's own time, not the flush's: an expired claim's attempt is
        # recorded as starting here (see the LEASE_EXPIRED attempt above).
        row.updated_at = now
        if row.message_id is None:
            row.message_id = notify.message_id(row.id, sender_address)
        config = configs.get(row.integration_id)
        channel = config.channel(row.channel_name) if config is not None else None
        if channel is not None and channel.type != row.channel_type:
            channel = None
        claims.append(
            Claim(
                notification_id=row.id,
                token=token,
                attempt=row.attempts,
                claimed_at=now,
                created_at=row.created_at,
                channel_type=row.channel_type,
                channel_name=row.channel_name,
                message_id=row.message_id,
                digest=Digest.from_payload(row.payload),
                channel=channel,
            )
        )
    return claims


def _configs(session: Session, integration_ids: set[str]) -> dict[str, IntegrationConfig]:
    """Current configs of live integrations: a deleted one's messages cannot go out."""
    configs: dict[str, IntegrationConfig] = {}
    for integration in session.scalars(
        select(models.Integration).where(
            models.Integration.id.in_(integration_ids), models.Integration.deleted_at.is_(None)
        )
    ):
        try:
            configs[integration.id] = IntegrationConfig.model_validate(integration.config)
        except ValidationError:
            continue
    return configs


def _attempt(
    notification_id: str, number: int, attempted_at: datetime, error: str | None, now: datetime
) -> models.NotificationAttempt:
    return models.NotificationAttempt(
        notification_id=notification_id,
        number=number,
        attempted_at=attempted_at,
        finished_at=now,
        error=error[:MAX_ERROR_LENGTH] if error is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one claimed attempt went. ``error`` is ``None`` when it was delivered."""

    claim: Claim
    error: str | None = None
    permanent: bool = False
    #: Seconds the destination asked to be left alone (``Retry-After``).
    retry_after: float | None = None


def settle(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    policy: RetryPolicy,
    random: Callable[[], float],
    now: datetime,
) -> list[DeliveryStatus | None]:
    """Record attempts and move their messages on, in one transaction.

    Returns each message's new status, or ``None`` where the claim was lost:
    its lease ran out and another sender took the message over. The attempt
    is still recorded; the message is the other sender's to settle.
    """
    held = {
        row.id: row
        for row in session.scalars(
            select(models.Notification)
            .where(models.Notification.id.in_([o.claim.notification_id for o in outcomes]))
            .with_for_update()
        )
    }
    statuses: list[DeliveryStatus | None] = []
    for outcome in outcomes:
        claim = outcome.claim
        session.add(
            _attempt(claim.notification_id, claim.attempt, claim.claimed_at, outcome.error, now)
        )
        row = held.get(claim.notification_id)
        if row is None or row.claim_token != claim.token:
            statuses.append(None)
            continue
        statuses.append(_move_on(row, outcome, policy=policy, random=random, now=now))
    return statuses


def _move_on(
    row: models.Notification,
    outcome: Outcome,
    *,
    policy: RetryPolicy,
    random: Callable[[], float],
    now: datetime,
) -> DeliveryStatus:
    row.claim_token = None
    error = outcome.error
    if error is None:
        row.status = DeliveryStatus.SENT
        row.sent_at = now
        row.last_error = None
        return DeliveryStatus.SENT
    decision = policy.after_failure(
        row.attempts, permanent=outcome.permanent, random=random, retry_after=outcome.retry_after
    )
    if isinstance(decision, GiveUp):
        row.status = DeliveryStatus.DEAD
        row.last_error = f"{error} ({decision.reason})"[:MAX_ERROR_LENGTH]
        return DeliveryStatus.DEAD
    row.status = DeliveryStatus.RETRYING
    row.next_attempt_at = now + timedelta(seconds=decision.delay_seconds)
    row.last_error = error[:MAX_ERROR_LENGTH]
    return DeliveryStatus.RETRYING


@dataclass(frozen=True, slots=True)
class Backlog:
    """What is waiting: counts by status (sent excluded) and the oldest undelivered age."""

    counts: dict[DeliveryStatus, int]
    oldest_undelivered_seconds: float | None


def backlog(session: Session, *, now: datetime) -> Backlog:
    waiting = (*notify.UNDELIVERED, DeliveryStatus.DEAD)
    counts = dict.fromkeys(waiting, 0)
    for status, count in session.execute(
        select(models.Notification.status, func.count())
        .where(models.Notification.status.in_(waiting))
        .group_by(models.Notification.status)
    ):
        counts[DeliveryStatus(status)] = count
    oldest = session.scalar(
        select(func.min(models.Notification.created_at)).where(
            models.Notification.status.in_(notify.UNDELIVERED)
        )
    )
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else None
    return Backlog(counts=counts, oldest_undelivered_seconds=age)
