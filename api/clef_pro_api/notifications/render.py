"""Rendering a digest into words: the email's plain-text and HTML parts.

Templates live beside this module (``templates/``) and are Jinja2 with
``StrictUndefined``, so a missing value fails a test instead of sending a hole;
the HTML template is autoescaped (alert messages are the CLI's free text). A
message says only what the read API shows: integration, commit, branch, rule,
scope, severity and the CLI's screened message, plus links to the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Final
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from clef_pro.domain.lifecycle import AlertEvent
from clef_pro.domain.notify import AlertNotice, Digest, subject

SECTION_TITLES: Final = {
    AlertEvent.OPENED: "New alerts",
    AlertEvent.RECURRING: "Still failing",
    AlertEvent.RESOLVED: "Resolved",
}


@dataclass(frozen=True, slots=True)
class Links:
    """Where the dashboard shows what a message is about."""

    public_url: str

    def integration(self, integration_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/integrations/{quote(integration_id, safe='')}"

    def alert(self, integration_id: str, alert_id: str) -> str:
        return f"{self.integration(integration_id)}/alerts/{quote(alert_id, safe='')}"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("clef_pro_api.notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.jinja",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _alert(notice: AlertNotice, digest: Digest, links: Links) -> dict[str, Any]:
    return {
        "rule_id": notice.rule_id,
        "rule_name": notice.rule_name,
        "scope": notice.scope,
        "severity": notice.severity.value,
        "message": notice.message,
        "introduced_by_commit": notice.introduced_by_commit[:12],
        "url": links.alert(digest.integration_id, notice.alert_id),
        "note": "its acknowledgement ran out" if notice.acknowledgement_expired else "",
    }


def template_context(digest: Digest, channel_name: str, links: Links) -> dict[str, Any]:
    sections = []
    for event, title in SECTION_TITLES.items():
        alerts = [_alert(n, digest, links) for n in digest.alerts if n.event is event]
        if alerts:
            sections.append({"title": title, "event": event.value, "alerts": alerts})
    return {
        "subject": subject(digest),
        "integration_name": digest.integration_name,
        "integration_id": digest.integration_id,
        "commit": digest.commit_sha[:12],
        "branch": digest.branch,
        "channel_name": channel_name,
        "headline": headline(digest),
        "sections": sections,
        "dashboard_url": links.integration(digest.integration_id),
    }


def headline(digest: Digest) -> str:
    """What the message is about: the commit of its report, or that it comes between reports."""
    if digest.commit_sha:
        return f"Clef Pro alerts at commit {digest.commit_sha[:12]} ({digest.branch})"
    return "Clef Pro alerts"


def render_email(digest: Digest, channel_name: str, links: Links) -> RenderedEmail:
    context = template_context(digest, channel_name, links)
    environment = _environment()
    return RenderedEmail(
        subject=context["subject"],
        text=environment.get_template("email.txt.jinja").render(context),
        html=environment.get_template("email.html.jinja").render(context),
    )
