"""The tables.

A report's body is stored whole, already normalised and screened: the matrix,
the drift view and the history are read from it, so there is no second store
to keep in step. Alerts and per-report alert events are rows of their own
because they are queried, locked and updated one by one. Notifications are a
transactional outbox: rows written with the report that caused them, delivered
afterwards by the sender of every replica.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


JSONDocument = JSON().with_variant(JSONB(), "postgresql")


class JSONText(ColumnElement[Any]):
    """A :data:`JSONDocument` bound as its JSON text, already serialised:
    PostgreSQL parses it (``CAST(... AS JSONB)``), SQLite keeps the text as
    its JSON type would. Spares a document serialised once already (for its
    digest) a second serialisation by the JSON type."""

    inherit_cache = True
    # SQLAlchemy's own declaration (and its caching) wants the plain list.
    _traverse_internals = [("bind", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, name: str) -> None:
        self.bind: BindParameter[str] = BindParameter(name, type_=Text())
        self.type = JSONDocument


@compiles(JSONText)
def _json_text(element: JSONText, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.bind, **kw)


@compiles(JSONText, "postgresql")
def _json_text_postgresql(element: JSONText, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.bind, **kw)} AS JSONB)"


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Integration(Base):
    __tablename__ = "integrations"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: The whole resolved config as the operator last sent it (IntegrationConfig).
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    #: The report that drives alerts and the matrix: the newest on a tracked branch.
    #: Not a foreign key: reports reference integrations, and a cycle would
    #: complicate every migration for no protection (reports are only ever
    #: deleted together with their integration).
    head_report_id: Mapped[str | None] = mapped_column(String(36))
    #: Set when the integration is deleted but its history is kept.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the last HEAD report arrived (what ``expectReportsEvery`` counts from).
    last_head_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When to look for silence next (``expectReportsEvery``); ``None``: never.
    silence_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: When open alerts are next pushed again to Alertmanager channels.
    resend_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    #: The Integration resource that owns this id, recorded by the first upsert
    #: from it; any other source is refused (``None``: configured by hand). The
    #: uid tells a resource from one re-created under the same name.
    owner_namespace: Mapped[str | None] = mapped_column(String(63))
    owner_name: Mapped[str | None] = mapped_column(String(253))
    owner_uid: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="integration", cascade="all, delete-orphan"
    )


class ApiKey(Base):
    __tablename__ = "api_keys"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    integration_id: Mapped[str] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: A rotated-out key is refused from this moment on (``None``: no end).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    integration: Mapped[Integration] = relationship(back_populates="api_keys")


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("integration_id", "commit_sha", name="uq_reports_integration_commit"),
        Index("ix_reports_history", "integration_id", "commit_timestamp", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    commit_sha: Mapped[str] = mapped_column(String(64))
    branch: Mapped[str] = mapped_column(String(255))
    commit_timestamp: Mapped[int] = mapped_column(BigInteger)
    passed: Mapped[bool] = mapped_column(Boolean)
    violations: Mapped[int] = mapped_column(Integer)
    #: The normalised report (see clef_pro.domain.report.Report.stored_body).
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    #: SHA-256 of the canonical body: an equal digest on resubmission is a replay.
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        # At most one open alert per identity; the database enforces what the
        # per-integration lock already guarantees.
        Index(
            "uq_alerts_open_identity",
            "integration_id",
            "rule_id",
            "scope",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # A page of one status, newest opened first, and the tab counts by
        # status and acknowledgement from the index alone (Postgres INCLUDE).
        # Its first two columns serve every lookup of the open alerts.
        Index(
            "ix_alerts_listing",
            "integration_id",
            "status",
            "opened_at",
            "id",
            postgresql_include=["acknowledged"],
        ),
        # A page of every alert, newest opened first.
        Index("ix_alerts_opened", "integration_id", "opened_at", "id"),
        Index(
            "ix_alerts_acknowledgement_expiry",
            "acknowledged_until",
            postgresql_where=text("acknowledged_until IS NOT NULL"),
            sqlite_where=text("acknowledged_until IS NOT NULL"),
        ),
        # Resolutions in a time window (mean time to resolve), not all history.
        Index("ix_alerts_resolved", "integration_id", "resolved_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    rule_id: Mapped[str] = mapped_column(String(128))
    rule_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the acknowledgement runs out (``acknowledgeFor``); ``None``: never.
    acknowledged_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Channel name -> ISO time it was last told of the alert: what repeat
    #: intervals count from, read with the open alerts at no extra cost.
    notified_at: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    introduced_by_commit: Mapped[str] = mapped_column(String(64))
    resolved_by_commit: Mapped[str | None] = mapped_column(String(64))
    last_seen_commit: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlertEventRow(Base):
    """What one report did to one alert: opened, recurring or resolved."""

    __tablename__ = "alert_events"
    __table_args__ = (
        # An alert's timeline, newest first, a page at a time.
        Index("ix_alert_events_timeline", "alert_id", "created_at", "report_id"),
    )

    report_id: Mapped[str] = mapped_column(
        ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """One message to one channel about one report: the transactional outbox.

    Written in the report's own transaction, so a ``200`` to the CLI means the
    message will be delivered. ``status`` moves pending -> sending -> sent, or
    -> retrying -> sending ... -> dead; dead messages are kept, never deleted.
    While ``sending``, ``next_attempt_at`` is the end of the sender's lease: a
    replica that dies mid-send leaves a claim that another takes over then.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        # One message per (report, channel): a changed resubmission of the same
        # commit never queues a second one.
        UniqueConstraint("report_id", "channel_name", name="uq_notifications_report_channel"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_listing", "integration_id", "created_at", "id"),
        # The listing filtered by status or by channel, a page at a time even
        # when few of the history's messages match (``?status=dead``).
        Index("ix_notifications_status_listing", "integration_id", "status", "created_at", "id"),
        Index(
            "ix_notifications_channel_listing",
            "integration_id",
            "channel_name",
            "created_at",
            "id",
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    #: Indexed by the unique (report, channel) constraint, whose first column it
    #: is. ``None`` for messages about what happens between reports.
    report_id: Mapped[str | None] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    channel_name: Mapped[str] = mapped_column(String(63))
    channel_type: Mapped[str] = mapped_column(String(16))
    #: The digest to render (clef_pro.domain.notify.Digest.to_payload), fixed at enqueue.
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Set on the first claim and kept: every resend carries the same Message-ID.
    message_id: Mapped[str | None] = mapped_column(String(255))
    #: Who holds the current claim; an outcome is recorded only by its holder.
    claim_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class NotificationAlert(Base):
    """Which alerts (and which of their events) a notification tells of."""

    __tablename__ = "notification_alerts"

    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    event: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    #: Where the alert stands in the message (new first, then recurring).
    position: Mapped[int] = mapped_column(Integer)


class NotificationAttempt(Base):
    """One delivery attempt: when, and the error (``None`` when it was delivered)."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)


class LintResultRow(Base):
    """One ``clef lint --push``: the repository's lint at push time (no commit).

    The newest by push time is the integration's current lint; older ones are
    its history. ``issues`` holds severity, category and the cleaned message of
    each issue: never a file, a key name or a fix command.
    """

    __tablename__ = "lint_results"
    __table_args__ = (
        # A push retried (by a collector) is the same push: one row.
        UniqueConstraint("integration_id", "digest", name="uq_lint_results_integration_digest"),
        Index("ix_lint_results_history", "integration_id", "pushed_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cli_version: Mapped[str] = mapped_column(String(64))
    file_count: Mapped[int] = mapped_column(Integer)
    pending_count: Mapped[int] = mapped_column(Integer)
    error_count: Mapped[int] = mapped_column(Integer)
    warning_count: Mapped[int] = mapped_column(Integer)
    info_count: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    #: ``{"issues": [{"severity", "category", "message"}, ...]}``
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DriftResultRow(Base):
    """One ``clef drift --push``: which namespaces drift between environments,
    and the environments a key is missing from, never the key (no commit)."""

    __tablename__ = "drift_results"
    __table_args__ = (
        UniqueConstraint("integration_id", "digest", name="uq_drift_results_integration_digest"),
        Index("ix_drift_results_history", "integration_id", "pushed_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    integration_id: Mapped[str] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cli_version: Mapped[str] = mapped_column(String(64))
    namespaces_compared: Mapped[int] = mapped_column(Integer)
    namespaces_clean: Mapped[int] = mapped_column(Integer)
    issue_count: Mapped[int] = mapped_column(Integer)
    passed: Mapped[bool] = mapped_column(Boolean)
    #: ``{"namespaces": [{"namespace", "keys", "missingFrom", "presentIn"}], "issues": [...]}``
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    digest: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DashboardSession(Base):
    """A signed-in dashboard session. The cookie proves who opened it; this
    row proves it is still open, so signing out (or rotating the admin token)
    ends it on the server, in every replica, at once."""

    __tablename__ = "dashboard_sessions"

    #: SHA-256 of the session's random nonce (the cookie holds the nonce).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
