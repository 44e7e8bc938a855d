"""Webhook delivery: one signed JSON ``POST`` per (report, channel).

The body is the digest (integration, commit, the alerts in the email's order)
plus links to the dashboard. Every request carries the signature headers of
:mod:`clef_pro.domain.signature` and ``X-Clef-Pro-Delivery``, the notification
id, which stays the same on every retry so a receiver can drop repeats
(delivery is at-least-once).

A 2xx is delivered. 408, 425, 429 and 5xx are retried, as are network
errors; any other status is permanent and the message is marked dead at once.
URLs are never put in an error text or a log line: they often carry tokens.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

import httpx

from clef_pro.domain.config import WebhookChannel
from clef_pro.domain.notify import subject
from clef_pro.domain.signature import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.render import Links

EVENT_TYPE: Final = "clef-pro.alerts"
_RETRIED_STATUSES: Final = frozenset({408, 425, 429})


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


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; a webhook URL's path and
    query are credentials, so only its origin may reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) > 1
            and isinstance(args[1], httpx.URL)
            and str(record.msg).startswith("HTTP Request:")
        ):
            url = args[1]
            record.args = (args[0], f"{url.scheme}://{url.host}:{url.port or ''}/…", *args[2:])
        return True


_REDACTION = _OriginOnly()


class WebhookBackend:
    channel_type: ClassVar[str] = "webhook"

    def __init__(
        self,
        links: Links,
        *,
        timeout_seconds: float,
        allow_http: bool = False,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        logging.getLogger("httpx").addFilter(_REDACTION)  # idempotent: one filter object
        self._links = links
        self._allow_http = allow_http
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, transport=transport
        )

    async def send(self, delivery: Delivery) -> None:
        channel = delivery.channel
        if not isinstance(channel, WebhookChannel):
            raise DeliveryError("not a webhook channel", permanent=True)
        scheme = urlsplit(channel.url).scheme
        if scheme != "https" and not self._allow_http:
            raise DeliveryError(
                "the webhook URL is not https:// (CLEF_PRO_WEBHOOK_ALLOW_HTTP is off)",
                permanent=True,
            )
        body = json.dumps(
            webhook_body(delivery, self._links), separators=(",", ":"), ensure_ascii=False
        ).encode()
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
        try:
            response = await self._client.post(channel.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError("the webhook endpoint timed out") from None
        except httpx.HTTPError as error:
            # The exception's text may contain the URL; its type does not.
            kind = type(error).__name__
            raise DeliveryError(f"cannot reach the webhook endpoint ({kind})") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        raise DeliveryError(
            f"the webhook endpoint answered HTTP {status}",
            permanent=status < 500 and status not in _RETRIED_STATUSES,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
