"""Microsoft Teams delivery: an Adaptive Card (1.5) per (report, channel).

Posted to a Teams workflow webhook ("When a Teams webhook request is
received", the successor of Office 365 connectors) or a legacy incoming
webhook, both of which take a ``message`` with one Adaptive Card
attachment. The card says what the email says, each alert linked to the
dashboard; past :data:`MAX_ALERTS` alerts, or :data:`MAX_CARD_BYTES`, the
rest are counted, keeping the card under Teams' 28 KB message limit.
Workflows answer 202, connectors 200; 429 is retried after its
``Retry-After``, other 4xx are permanent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import httpx

from clef_pro.domain.config import TeamsChannel
from clef_pro.domain.destinations import IPNetwork
from clef_pro.domain.notify import one_line, subject
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.http import json_body, post, require_scheme
from clef_pro_api.notifications.outbound import guarded_client
from clef_pro_api.notifications.render import Links, headline, template_context

ADAPTIVE_CARD_VERSION: Final = "1.5"
#: Room the alerts may take, leaving a margin under Teams' 28 KB per message.
MAX_CARD_BYTES: Final = 24 * 1024
CARD_CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"
MAX_ALERTS: Final = 25
MAX_MESSAGE_TEXT: Final = 1200
SEVERITY_COLORS: Final = {"critical": "Attention", "warning": "Warning", "info": "Accent"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _alert_container(alert: dict[str, Any]) -> dict[str, Any]:
    message = alert["message"]
    if len(message) > MAX_MESSAGE_TEXT:
        message = message[: MAX_MESSAGE_TEXT - 1] + "…"
    facts = [
        {"title": "Severity", "value": alert["severity"]},
        {"title": "Scope", "value": alert["scope"]},
        {"title": "Rule", "value": alert["rule_id"]},
        {"title": "Introduced by", "value": alert["introduced_by_commit"] or "unknown"},
    ]
    if alert["note"]:
        facts.append({"title": "Note", "value": alert["note"]})
    return {
        "type": "Container",
        "separator": True,
        "selectAction": {"type": "Action.OpenUrl", "url": alert["url"], "title": "Open alert"},
        "items": [
            _text(
                alert["rule_name"],
                weight="Bolder",
                color=SEVERITY_COLORS.get(alert["severity"], "Default"),
            ),
            _text(message),
            {"type": "FactSet", "facts": facts},
        ],
    }


def adaptive_card(delivery: Delivery, links: Links) -> dict[str, Any]:
    digest = delivery.digest
    context = template_context(digest, delivery.channel.name, links)
    body: list[dict[str, Any]] = [
        _text(one_line(subject(digest), 200), size="Medium", weight="Bolder", style="heading"),
        _text(f"{context['integration_name']} · {headline(digest)}", isSubtle=True, spacing="None"),
    ]
    listed = 0
    size = len(json.dumps(body).encode())
    total = sum(len(section["alerts"]) for section in context["sections"])
    for section in context["sections"]:
        title = _text(f"{section['title']} ({len(section['alerts'])})", weight="Bolder")
        size += len(json.dumps(title).encode())
        if listed >= MAX_ALERTS or size > MAX_CARD_BYTES:
            break
        body.append(title)
        for alert in section["alerts"]:
            container = _alert_container(alert)
            size += len(json.dumps(container).encode())
            if listed >= MAX_ALERTS or size > MAX_CARD_BYTES:
                break
            body.append(container)
            listed += 1
    if listed < total:
        body.append(_text(f"…and {total - listed} more on the dashboard.", isSubtle=True))
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open in Clef Pro", "url": context["dashboard_url"]}
        ],
    }


def teams_message(delivery: Delivery, links: Links) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": adaptive_card(delivery, links),
            }
        ],
    }


class TeamsBackend:
    channel_type: ClassVar[str] = "teams"

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
        if not isinstance(channel, TeamsChannel):
            raise DeliveryError("not a Teams channel", permanent=True)
        require_scheme(channel.url, allow_http=self._allow_http, what="Teams webhook")
        body = json_body(teams_message(delivery, self._links))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "clef-pro/1"}
        await post(self._client, channel.url, body, headers, what="Teams webhook")

    async def aclose(self) -> None:
        await self._client.aclose()
