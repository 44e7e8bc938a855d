"""Prometheus metrics of the service, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REPORTS = Counter(
    "clef_pro_reports_total",
    "Reports taken in, by outcome (stored, replay, history).",
    ["outcome"],
)
SUBMISSIONS_REJECTED = Counter(
    "clef_pro_submissions_rejected_total",
    "Report submissions refused, by HTTP status.",
    ["status"],
)
INGEST_SECONDS = Histogram(
    "clef_pro_ingest_seconds",
    "Time to store a submission and apply its alert lifecycle, commit included.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OTLP_RECORDS = Counter(
    "clef_pro_otlp_records_total",
    "OTLP log records at /v1/logs, by outcome (taken, rejected).",
    ["outcome"],
)
OTLP_DROPPED_ATTRIBUTES = Counter(
    "clef_pro_otlp_dropped_attributes_total",
    "Attributes dropped from OTLP records before anything was stored (file paths, key "
    "names, fix commands, attributes not in the contract).",
)
ALERT_EVENTS = Counter(
    "clef_pro_alert_events_total",
    "Alert lifecycle events caused by HEAD reports.",
    ["event"],
)

# ---------------------------------------------------------------- notifications
NOTIFICATIONS_QUEUED = Counter(
    "clef_pro_notifications_queued_total",
    "Outbox messages committed with the reports that caused them, by channel type.",
    ["channel_type"],
)
NOTIFICATIONS_SENT = Counter(
    "clef_pro_notifications_sent_total",
    "Outbox messages delivered by this replica, by channel type.",
    ["channel_type"],
)
NOTIFICATION_FAILURES = Counter(
    "clef_pro_notification_failures_total",
    "Failed delivery attempts by this replica (each is retried or goes dead), by channel type.",
    ["channel_type"],
)
NOTIFICATIONS_DEAD = Counter(
    "clef_pro_notifications_dead_total",
    "Outbox messages this replica gave up on (kept and shown as dead), by channel type.",
    ["channel_type"],
)
NOTIFICATION_DELIVERY_SECONDS = Histogram(
    "clef_pro_notification_delivery_seconds",
    "Time of one delivery attempt (SMTP transaction or webhook request), by channel type.",
    ["channel_type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NOTIFICATION_BACKLOG = Gauge(
    "clef_pro_notification_backlog",
    "Outbox messages not delivered, by status (pending, sending, retrying, dead); "
    "the same in every replica (read from the database at scrape time).",
    ["status"],
)
NOTIFICATION_OLDEST_PENDING_SECONDS = Gauge(
    "clef_pro_notification_oldest_pending_age_seconds",
    "Age of the oldest message not yet delivered (0 when none waits).",
)
