"""Prometheus metrics of the service, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
ALERT_EVENTS = Counter(
    "clef_pro_alert_events_total",
    "Alert lifecycle events caused by HEAD reports.",
    ["event"],
)
