"""Alertmanager delivery: open alerts pushed through its API v2 (``POST /api/v2/alerts``).

Each Clef Pro alert becomes a Prometheus-style alert with the labels
``alertname`` (``ClefProPolicyViolation``, or ``ClefProIntegrationSilent`` for
``clef-pro/silent``), ``integration``, ``rule``, ``scope`` and ``severity``,
so Alertmanager's routes, grouping, inhibitions and silences work on them as
on any alert. ``startsAt`` is when the alert opened. Open alerts are pushed on
every report and again every ``resendInterval`` with an ``endsAt`` four
intervals ahead (Prometheus' rule), so they stay active exactly while open
here and end by themselves if Clef Pro goes away; a resolution pushes
``endsAt`` = the moment it resolved. An acknowledged alert carries the
annotations ``acknowledged`` and ``acknowledged_by``:
Alertmanager's templates and UI show them, and users decide what they mean
(routes and silences match labels, so acknowledging does not change an
alert's identity there).

Alertmanager answers 200; 400 (an alert it refuses) is permanent, 5xx retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

import httpx

from clef_pro.domain.config import AlertmanagerChannel
from clef_pro.domain.destinations import IPNetwork
from clef_pro.domain.lifecycle import SILENT_RULE_ID, AlertEvent
from clef_pro.domain.notify import AlertNotice, Digest
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.http import json_body, post
from clef_pro_api.notifications.outbound import guarded_client
from clef_pro_api.notifications.render import Links

ALERTS_PATH: Final = "/api/v2/alerts"
POLICY_ALERT_NAME: Final = "ClefProPolicyViolation"
SILENT_ALERT_NAME: Final = "ClefProIntegrationSilent"
#: ``endsAt`` of an open alert, in resend intervals ahead (as Prometheus does).
VALIDITY_INTERVALS: Final = 4


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def alertmanager_alert(
    notice: AlertNotice,
    digest: Digest,
    links: Links,
    *,
    now: datetime,
    resend_every: timedelta,
) -> dict[str, Any]:
    labels = {
        "alertname": SILENT_ALERT_NAME if notice.rule_id == SILENT_RULE_ID else POLICY_ALERT_NAME,
        "integration": digest.integration_id,
        "rule": notice.rule_id,
        "scope": notice.scope,
        "severity": notice.severity.value,
    }
    annotations = {
        "summary": f"{notice.rule_name} on {notice.scope} ({digest.integration_name})",
        "description": notice.message,
        "alert_id": notice.alert_id,
        "introduced_by_commit": notice.introduced_by_commit,
        "dashboard_url": links.alert(digest.integration_id, notice.alert_id),
    }
    acknowledged = notice.acknowledged or notice.event is AlertEvent.ACKNOWLEDGED
    if acknowledged and notice.event is not AlertEvent.RESOLVED:
        annotations["acknowledged"] = "true"
        if notice.acknowledged_by:
            annotations["acknowledged_by"] = notice.acknowledged_by
    resolved = notice.event is AlertEvent.RESOLVED
    ends = now if resolved else now + VALIDITY_INTERVALS * resend_every
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {k: v for k, v in annotations.items() if v},
        "endsAt": _time(ends),
        "generatorURL": links.alert(digest.integration_id, notice.alert_id),
    }
    if notice.opened_at is not None:
        alert["startsAt"] = _time(min(notice.opened_at, ends))
    return alert


class AlertmanagerBackend:
    channel_type: ClassVar[str] = "alertmanager"

    def __init__(
        self,
        links: Links,
        *,
        timeout_seconds: float,
        allowed_networks: Sequence[IPNetwork] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._links = links
        self._client = guarded_client(
            allowed_networks, timeout_seconds=timeout_seconds, transport=transport
        )

    async def send(self, delivery: Delivery) -> None:
        channel = delivery.channel
        if not isinstance(channel, AlertmanagerChannel):
            raise DeliveryError("not an Alertmanager channel", permanent=True)
        alerts = [
            alertmanager_alert(
                notice,
                delivery.digest,
                self._links,
                now=delivery.created_at,
                resend_every=channel.resend_every,
            )
            for notice in delivery.digest.alerts
        ]
        url = channel.url.rstrip("/") + ALERTS_PATH
        headers = {"Content-Type": "application/json", "User-Agent": "clef-pro/1"}
        await post(self._client, url, json_body(alerts), headers, what="Alertmanager")

    async def aclose(self) -> None:
        await self._client.aclose()
