"""Webhook delivery: one signed JSON ``POST`` per (report, channel).

The body is the digest (integration, commit, the alerts in the email's order)
plus links to the dashboard. Every request carries the signature headers of
:mod:`clef_pro.domain.signature` and ``X-Clef-Pro-Delivery``, the notification
id, which stays the same on every retry so a receiver can drop repeats
(delivery is at-least-once).

Requests go through the guarded client of :mod:`.outbound` (no internal
destinations unless allow-listed); :mod:`.http` says which answers are retried.
URLs are never put in an error text or a log line: they often carry tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Final

import httpx

from clef_pro.domain.config import WebhookChannel
from clef_pro.domain.destinations import IPNetwork
from clef_pro.domain.notify import subject
from clef_pro.domain.signature import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.http import json_body, post, require_scheme
from clef_pro_api.notifications.outbound import guarded_client
from clef_pro_api.notifications.render import Links

EVENT_TYPE: Final = "clef-pro.alerts"


def webhook_body(delivery: Delivery, links: Links) -> dict[str, Any]:
    digest = delivery.digest
    payload = digest.to_payload()
    for alert in payload["alerts"]:
        alert["url"] = links.alert(digest.integration_id, alert["alertId"])
    return {
        "type": EVENT_TYPE,
        "id": delivery.notification_id,
        "createdAt": delivery.created_at.isoformat(),
        "subject": subject(digest),
        "channel": delivery.channel.name,
        "dashboardUrl": links.integration(digest.integration_id),
        **payload,
    }


class WebhookBackend:
    channel_type: ClassVar[str] = "webhook"

    def __init__(
        self,
        links: Links,
        *,
        timeout_seconds: float,
        allow_http: bool = False,
        allowed_networks: Sequence[IPNetwork] = (),
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._links = links
        self._allow_http = allow_http
        self._clock = clock
        self._client = guarded_client(
            allowed_networks, timeout_seconds=timeout_seconds, transport=transport
        )

    async def send(self, delivery: Delivery) -> None:
        channel = delivery.channel
        if not isinstance(channel, WebhookChannel):
            raise DeliveryError("not a webhook channel", permanent=True)
        require_scheme(channel.url, allow_http=self._allow_http, what="webhook")
        body = json_body(webhook_body(delivery, self._links))
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "clef-pro-webhook/1",
            DELIVERY_HEADER: delivery.notification_id,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(
                channel.signing_key.get_secret_value().encode(), timestamp, body
            ),
        }
        await post(self._client, channel.url, body, headers, what="webhook")

    async def aclose(self) -> None:
        await self._client.aclose()
