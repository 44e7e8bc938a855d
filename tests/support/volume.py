"""A long history in seconds: reports, alerts, their events and notifications
written straight into PostgreSQL with ``COPY``.

Submitting 100,000 reports through the API would take most of an hour; the
read side only needs the rows as ingestion leaves them. So the integration is
created and its HEAD submitted through the real API (the HEAD's body is the
template every older report copies, re-keyed), and the rest of the history is
copied in: older reports, resolved alerts and a fixed set of open ones, an
``opened`` (and ``resolved``) event per alert, and one sent notification per
alert. Then ``VACUUM ANALYZE``, as autovacuum would leave a long-lived table.

Used by ``bench/reads.py`` and by the memory test of the worst pages.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from tests.support.contract import spec_report
from tests.support.service import ServiceClient

#: Commit times count up from here (November 2025, epoch milliseconds).
BASE_TIMESTAMP = 1_763_900_500_000
CHANNEL = "ops-mail"


@dataclass
class Volume:
    integration_id: str
    api_key: str
    reports: int
    alerts: int
    #: A report deep in the history: its full sha, and (commit time, id).
    old_commit: str = ""
    old_position: tuple[int, str] = (0, "")
    #: An alert in the middle of the resolved ones: (opened at, id).
    old_alert: tuple[datetime, str] = (datetime.now(UTC), "")
    open_alert_ids: list[str] = field(default_factory=list)
    resolved_alert_ids: list[str] = field(default_factory=list)


def report_sha(index: int) -> str:
    """A commit sha as git's look: spread evenly, so a 12-digit prefix is unique."""
    return hashlib.sha1(f"bench-{index}".encode(), usedforsecurity=False).hexdigest()


def seed_volume(
    client: ServiceClient,
    dsn: str,
    integration_id: str,
    *,
    reports: int,
    alerts: int,
    open_alerts: int = 60,
    now: datetime | None = None,
) -> Volume:
    """``reports`` reports (the newest, the HEAD, through the API) and
    ``alerts`` alerts besides those the HEAD opened, of which the newest
    ``open_alerts`` are open (every other one of those acknowledged)."""
    now = now or datetime.now(UTC)
    (key,) = client.put_integration(integration_id)
    head = spec_report(report_sha(reports - 1), timestamp=BASE_TIMESTAMP + (reports - 1) * 1000)
    client.submit_ok(key, head)
    volume = Volume(integration_id, key, reports, alerts)
    with psycopg.connect(dsn, autocommit=False) as connection:
        template = connection.execute(
            "SELECT body, digest FROM reports WHERE integration_id = %s", (integration_id,)
        ).fetchone()
        assert template is not None
        body: dict[str, Any] = template[0]
        report_ids = _copy_reports(connection, integration_id, body, reports - 1, now)
        # In the middle of the history, but with a full page of older ones.
        middle = max((reports - 1) // 2, min(reports - 2, 60))
        volume.old_commit = report_sha(middle)
        volume.old_position = (BASE_TIMESTAMP + middle * 1000, report_ids[middle])
        _copy_alerts(connection, volume, report_ids, open_alerts, now)
        connection.commit()
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return volume


def _copy_reports(
    connection: psycopg.Connection[Any],
    integration_id: str,
    body: dict[str, Any],
    count: int,
    now: datetime,
) -> list[str]:
    ids = []
    with connection.cursor().copy(
        "COPY reports (id, integration_id, commit_sha, branch, commit_timestamp, passed,"
        " violations, body, digest, received_at, updated_at) FROM STDIN"
    ) as copy:
        for index in range(count):
            report_id = str(uuid.uuid4())
            ids.append(report_id)
            sha = report_sha(index)
            row_body = {**body, "commitSha": sha, "commitTimestamp": BASE_TIMESTAMP + index * 1000}
            received = now - timedelta(seconds=count - index)
            copy.write_row(
                (
                    report_id,
                    integration_id,
                    sha,
                    "main",
                    BASE_TIMESTAMP + index * 1000,
                    False,
                    int(body["summary"]["violations"]),
                    json.dumps(row_body, separators=(",", ":")),
                    f"{index:064x}",
                    received,
                    received,
                )
            )
    return ids


def _copy_alerts(
    connection: psycopg.Connection[Any],
    volume: Volume,
    report_ids: list[str],
    open_alerts: int,
    now: datetime,
) -> None:
    count = volume.alerts
    severities = ("critical", "warning", "info")
    alerts, events, notifications, links = [], [], [], []
    for index in range(count):
        alert_id = str(uuid.uuid4())
        is_open = index >= count - open_alerts
        acknowledged = is_open and index % 2 == 0
        opened = now - timedelta(minutes=5 * (count - index) + 60)
        resolved = None if is_open else opened + timedelta(minutes=30 + index % 240)
        severity = severities[index % 3]
        rule = f"bench_rule_{index % 40}"
        opening = index % len(report_ids)
        closing = (index + 1) % len(report_ids)
        message = f"Bench violation {index} of {rule}"
        alerts.append(
            (
                alert_id,
                volume.integration_id,
                rule,
                rule.replace("_", " ").capitalize(),
                f"bench-{index}/production",
                severity,
                message,
                "open" if is_open else "resolved",
                acknowledged,
                "admin" if acknowledged else None,
                opened + timedelta(minutes=1) if acknowledged else None,
                None,
                json.dumps({CHANNEL: opened.isoformat()}),
                report_sha(opening),
                None if is_open else report_sha(closing),
                report_sha(closing),
                opened,
                resolved,
                resolved or opened,
            )
        )
        events.append((report_ids[opening], alert_id, "opened", severity, message, opened))
        if resolved is not None:
            events.append((report_ids[closing], alert_id, "resolved", severity, message, resolved))
        notification_id = str(uuid.uuid4())
        notifications.append(
            (
                notification_id,
                volume.integration_id,
                None,
                CHANNEL,
                "email",
                json.dumps({"report": {"commitSha": report_sha(opening)}}),
                "sent",
                1,
                opened,
                f"<{notification_id}@clef-pro.bench>",
                opened,
                opened,
                opened,
            )
        )
        links.append((notification_id, alert_id, "opened", severity, 0))
        if is_open:
            volume.open_alert_ids.append(alert_id)
        else:
            volume.resolved_alert_ids.append(alert_id)
        if index == max((count - open_alerts) // 2, min(count - open_alerts - 1, 55)):
            # Mid-history, with a full page of older alerts behind it.
            volume.old_alert = (opened, alert_id)
    cursor = connection.cursor()
    for statement, rows in (
        (
            "COPY alerts (id, integration_id, rule_id, rule_name, scope, severity, message,"
            " status, acknowledged, acknowledged_by, acknowledged_at, acknowledged_until,"
            " notified_at, introduced_by_commit, resolved_by_commit, last_seen_commit,"
            " opened_at, resolved_at, updated_at) FROM STDIN",
            alerts,
        ),
        (
            "COPY alert_events (report_id, alert_id, event, severity, message, created_at)"
            " FROM STDIN",
            events,
        ),
        (
            "COPY notifications (id, integration_id, report_id, channel_name, channel_type,"
            " payload, status, attempts, next_attempt_at, message_id, sent_at, created_at,"
            " updated_at) FROM STDIN",
            notifications,
        ),
        (
            "COPY notification_alerts (notification_id, alert_id, event, severity, position)"
            " FROM STDIN",
            links,
        ),
    ):
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
