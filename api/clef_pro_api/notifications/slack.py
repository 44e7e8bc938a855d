"""Slack delivery: a Block Kit message per (report, channel) to an incoming webhook.

The message says what the email says: the integration, the worst severity
still failing, new and recurring alerts (and resolutions where the channel
asks for them) with rule, scope, the CLI's message and the introducing
commit, each linked to the dashboard. Slack's limits are kept by
construction: at most 50 blocks (alerts past that are counted, not listed),
section text under 3,000 characters, a header under 150, button text under
75; the top-level ``text`` is what notifications and screen readers show.

Slack answers 200 ``ok``; a 429 carries ``Retry-After``, which the retry
policy honours; other 4xx (``invalid_payload``, ``no_service``,
``channel_is_archived``) are permanent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Final

import httpx

from clef_pro.domain.config import SlackChannel
from clef_pro.domain.destinations import IPNetwork
from clef_pro.domain.notify import one_line, subject
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.http import json_body, post, require_scheme
from clef_pro_api.notifications.outbound import guarded_client
from clef_pro_api.notifications.render import Links, headline, template_context

MAX_BLOCKS: Final = 50
MAX_SECTION_TEXT: Final = 3000
MAX_HEADER_TEXT: Final = 150
MAX_CONTEXT_TEXT: Final = 2000
MAX_BUTTON_TEXT: Final = 75
MAX_MESSAGE_TEXT: Final = 1200

SEVERITY_MARKS: Final = {
    "critical": ":red_circle:",
    "warning": ":large_orange_circle:",
    "info": ":large_blue_circle:",
}


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>``, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str, text: str) -> str:
    return f"<{url}|{escape(text).replace('|', '¦')}>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _alert_block(alert: dict[str, Any]) -> dict[str, Any]:
    mark = SEVERITY_MARKS.get(alert["severity"], "")
    note = f" _({escape(alert['note'])})_" if alert["note"] else ""
    text = (
        f"{mark} *{_link(alert['url'], alert['rule_name'])}* `{escape(alert['rule_id'])}` "
        f"on *{escape(alert['scope'])}*{note}\n"
        f"{escape(_clip(alert['message'], MAX_MESSAGE_TEXT))}\n"
        f"_Introduced by_ `{escape(alert['introduced_by_commit'] or 'unknown')}`"
    )
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, MAX_SECTION_TEXT)}}


def slack_message(delivery: Delivery, links: Links) -> dict[str, Any]:
    digest = delivery.digest
    context = template_context(digest, delivery.channel.name, links)
    title = subject(digest)
    details = f"*{escape(context['integration_name'])}* · {escape(headline(digest))}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": one_line(title, MAX_HEADER_TEXT), "emoji": True},
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _clip(details, MAX_CONTEXT_TEXT)}],
        },
    ]
    closing = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in Clef Pro"[:MAX_BUTTON_TEXT]},
                "url": context["dashboard_url"],
            }
        ],
    }
    # Room for the closing button and one "and N more" line.
    room = MAX_BLOCKS - len(blocks) - 2
    listed = 0
    total = sum(len(section["alerts"]) for section in context["sections"])
    for section in context["sections"]:
        if room < 2:
            break
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{escape(section['title'])} ({len(section['alerts'])})*",
                },
            }
        )
        room -= 1
        for alert in section["alerts"]:
            if room < 1:
                break
            blocks.append(_alert_block(alert))
            room -= 1
            listed += 1
    if listed < total:
        more = f"…and {total - listed} more: {_link(context['dashboard_url'], 'see the dashboard')}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    blocks.append(closing)
    return {"text": _clip(title, MAX_SECTION_TEXT), "blocks": blocks}


class SlackBackend:
    channel_type: ClassVar[str] = "slack"

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
        if not isinstance(channel, SlackChannel):
            raise DeliveryError("not a Slack channel", permanent=True)
        require_scheme(channel.url, allow_http=self._allow_http, what="Slack webhook")
        body = json_body(slack_message(delivery, self._links))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "clef-pro/1"}
        await post(self._client, channel.url, body, headers, what="Slack webhook")

    async def aclose(self) -> None:
        await self._client.aclose()
