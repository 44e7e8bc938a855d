"""PagerDuty delivery: Events API v2, one PagerDuty alert per Clef Pro alert.

The alert's id is the ``dedup_key``, so the lifecycle maps one to one:
``trigger`` when the alert opens and on each recurring report while it is not
acknowledged (at most once per ``repeatInterval``), ``acknowledge`` when
someone acknowledges it in Clef Pro, ``resolve`` when a report resolves it.
Severities map to PagerDuty's (``critical``, ``warning``, ``info``). The
payload carries what the read API shows (rule, scope, the CLI's screened
message, commits) and links to the dashboard; nothing the security model
forbids. Events of one message go out in order, one request each; a retry
sends them all again, which PagerDuty's deduplication makes harmless.

PagerDuty answers 202; 400 (an invalid event) is permanent, 429 and 5xx are
retried (``Retry-After`` honoured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import httpx

from clef_pro.domain.config import PagerDutyChannel
from clef_pro.domain.destinations import IPNetwork
from clef_pro.domain.lifecycle import AlertEvent
from clef_pro.domain.notify import AlertNotice, Digest, one_line
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.http import json_body, post, require_scheme
from clef_pro_api.notifications.outbound import guarded_client
from clef_pro_api.notifications.render import Links

ACTIONS: Final = {
    AlertEvent.OPENED: "trigger",
    AlertEvent.RECURRING: "trigger",
    AlertEvent.ACKNOWLEDGED: "acknowledge",
    AlertEvent.RESOLVED: "resolve",
}
MAX_SUMMARY: Final = 1024
MAX_DEDUP_KEY: Final = 255
CLIENT: Final = "Clef Pro"


def pagerduty_event(
    notice: AlertNotice, digest: Digest, routing_key: str, links: Links, *, at: str
) -> dict[str, Any]:
    action = ACTIONS[notice.event]
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": notice.alert_id[:MAX_DEDUP_KEY],
    }
    if action != "trigger":
        return event
    summary = f"{digest.integration_name}: {notice.rule_name} on {notice.scope}: {notice.message}"
    details: dict[str, Any] = {
        "integration": digest.integration_id,
        "rule": notice.rule_id,
        "scope": notice.scope,
        "message": notice.message,
        "introduced_by_commit": notice.introduced_by_commit,
    }
    if digest.commit_sha:
        details["reported_commit"] = digest.commit_sha
        details["branch"] = digest.branch
    if notice.acknowledgement_expired:
        details["note"] = "its acknowledgement in Clef Pro ran out"
    event.update(
        {
            "payload": {
                "summary": one_line(summary, MAX_SUMMARY),
                "source": digest.integration_id,
                "severity": notice.severity.value,
                "timestamp": at,
                "component": notice.scope,
                "group": digest.integration_id,
                "class": notice.rule_id,
                "custom_details": details,
            },
            "client": CLIENT,
            "client_url": links.integration(digest.integration_id),
            "links": [
                {
                    "href": links.alert(digest.integration_id, notice.alert_id),
                    "text": "Alert in Clef Pro",
                }
            ],
        }
    )
    return event


class PagerDutyBackend:
    channel_type: ClassVar[str] = "pagerduty"

    def __init__(
        self,
        links: Links,
        *,
        timeout_seconds: float,
        allow_http: bool = False,
        allowed_networks: Sequence[IPNetwork] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._links = links
        self._allow_http = allow_http
        self._client = guarded_client(
            allowed_networks, timeout_seconds=timeout_seconds, transport=transport
        )

    async def send(self, delivery: Delivery) -> None:
        channel = delivery.channel
        if not isinstance(channel, PagerDutyChannel):
            raise DeliveryError("not a PagerDuty channel", permanent=True)
        require_scheme(channel.url, allow_http=self._allow_http, what="PagerDuty")
        key = channel.routing_key.get_secret_value()
        at = delivery.created_at.isoformat()
        headers = {"Content-Type": "application/json", "User-Agent": "clef-pro/1"}
        for notice in delivery.digest.alerts:
            event = pagerduty_event(notice, delivery.digest, key, self._links, at=at)
            await post(self._client, channel.url, json_body(event), headers, what="PagerDuty")

    async def aclose(self) -> None:
        await self._client.aclose()
