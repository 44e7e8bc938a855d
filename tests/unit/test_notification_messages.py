"""What a notification says, built without sending it: the email and the webhook body."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

import pytest

from clef_pro.domain.config import EmailChannel, WebhookChannel
from clef_pro.domain.lifecycle import AlertEvent
from clef_pro.domain.notify import AlertNotice, Digest
from clef_pro.domain.severity import Severity
from clef_pro_api.errors import field_path
from clef_pro_api.notifications.backend import Delivery, DeliveryError
from clef_pro_api.notifications.email import build_message
from clef_pro_api.notifications.render import Links
from clef_pro_api.notifications.webhook import webhook_body

LINKS = Links("https://clef.example/")
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def notice(event: AlertEvent, rule_id: str, message: str = "fails") -> AlertNotice:
    return AlertNotice(
        alert_id=f"alert-{rule_id}",
        event=event,
        rule_id=rule_id,
        rule_name=rule_id.title(),
        scope="oauth/production",
        severity=Severity.CRITICAL,
        message=message,
        introduced_by_commit="abcdef1234567890",
    )


def delivery(channel: EmailChannel | WebhookChannel, *notices: AlertNotice) -> Delivery:
    return Delivery(
        notification_id="n-1",
        message_id="<n-1@clef.example>",
        attempt=1,
        created_at=CREATED,
        channel=channel,
        digest=Digest("acme", "Acme <Payments>", "r-1", "f" * 40, "main", notices),
    )


EMAIL = EmailChannel(name="team", to=["a@acme.com", "b@acme.com"])


def sent_form(message: Message) -> EmailMessage:
    """The message as an SMTP server receives it, parsed as a mail client would."""
    parsed = message_from_bytes(message.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_email_has_stable_headers_and_both_parts() -> None:
    message = sent_form(
        build_message(
            delivery(EMAIL, notice(AlertEvent.OPENED, "new_rule")),
            sender="Clef Pro <alerts@clef.example>",
            links=LINKS,
        )
    )
    assert message["Message-ID"] == "<n-1@clef.example>"
    assert message["To"] == "a@acme.com, b@acme.com"
    assert message["From"] == "Clef Pro <alerts@clef.example>"
    assert message["Subject"] == "[Clef Pro] Acme <Payments>: 1 critical, 1 new"
    assert message["Date"] == "Sun, 01 Mar 2026 12:00:00 +0000"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Clef-Pro-Commit"] == "f" * 40
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "https://clef.example/integrations/acme/alerts/alert-new_rule" in text.get_content()
    assert "https://clef.example/integrations/acme" in html.get_content()


def test_the_html_part_escapes_what_the_cli_wrote() -> None:
    message = sent_form(
        build_message(
            delivery(EMAIL, notice(AlertEvent.OPENED, "x", "<script>alert(1)</script> & more")),
            sender="alerts@clef.example",
            links=LINKS,
        )
    )
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    assert html_part is not None
    assert text_part is not None
    html = html_part.get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "Acme &lt;Payments&gt;" in html
    assert "<script>alert(1)</script> & more" in text_part.get_content()


def test_sections_come_in_the_order_of_the_digest() -> None:
    message = sent_form(
        build_message(
            delivery(
                EMAIL,
                notice(AlertEvent.OPENED, "first"),
                notice(AlertEvent.RECURRING, "second"),
                notice(AlertEvent.RESOLVED, "third"),
            ),
            sender="alerts@clef.example",
            links=LINKS,
        )
    )
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    positions = [text.index(title) for title in ("New alerts", "Still failing", "Resolved")]
    assert positions == sorted(positions)
    assert text.index("(first)") < text.index("(second)") < text.index("(third)")


def test_non_ascii_names_and_messages_are_encoded_and_read_back() -> None:
    rendered = delivery(EMAIL, notice(AlertEvent.OPENED, "x", "clé manquante — oauth"))
    named = replace(
        rendered,
        digest=Digest("acme", "Équipe Paiements", "r-1", "f" * 40, "main", rendered.digest.alerts),
    )
    raw = build_message(named, sender="alerts@clef.example", links=LINKS).as_bytes()
    assert raw.isascii()  # 7-bit clean on the wire: encoded words and quoted-printable
    message = sent_form(build_message(named, sender="alerts@clef.example", links=LINKS))
    assert message["Subject"] == "[Clef Pro] Équipe Paiements: 1 critical, 1 new"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert "clé manquante — oauth" in text.get_content()


def test_a_header_cannot_be_split_into_two() -> None:
    bad = EmailChannel.model_construct(name="team", type="email", to=["a@acme.com\r\nBcc: x@evil"])
    with pytest.raises(DeliveryError, match="To header"):
        build_message(delivery(bad), sender="alerts@clef.example", links=LINKS)


def test_an_email_backend_refuses_a_webhook_channel() -> None:
    hook = WebhookChannel(
        name="hook", type="webhook", url="https://h.example/x", signing_key="k" * 16
    )
    with pytest.raises(DeliveryError) as refused:
        build_message(delivery(hook), sender="a@b.example", links=LINKS)
    assert refused.value.permanent


def test_the_webhook_body_is_the_digest_with_links_and_no_secret() -> None:
    hook = WebhookChannel(
        name="hook",
        type="webhook",
        url="https://hooks.example/clef?token=t0k3n",
        signing_key="secret-signing-key-123",
    )
    body = webhook_body(
        delivery(hook, notice(AlertEvent.OPENED, "a"), notice(AlertEvent.RECURRING, "b")), LINKS
    )
    text = json.dumps(body)
    assert "t0k3n" not in text
    assert "secret-signing-key" not in text
    assert body["id"] == "n-1"
    assert body["channel"] == "hook"
    assert [alert["ruleId"] for alert in body["alerts"]] == ["a", "b"]
    assert body["alerts"][0]["url"] == "https://clef.example/integrations/acme/alerts/alert-a"
    assert body["dashboardUrl"] == "https://clef.example/integrations/acme"
    assert body["createdAt"] == "2026-03-01T12:00:00+00:00"


def test_links_escape_identifiers() -> None:
    assert LINKS.alert("a/b c", "x?y") == "https://clef.example/integrations/a%2Fb%20c/alerts/x%3Fy"


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        (("body", "channels", 0, "email", "to", 0), "channels[0].to[0]"),
        (("body", "channels", 2, "webhook", "url"), "channels[2].url"),
        (("body", "summary", "cells", 0, "description"), "summary.cells[0].description"),
        (("body", "email"), "email"),
    ],
)
def test_error_paths_hide_the_channel_union_tag(loc: tuple[str | int, ...], path: str) -> None:
    assert field_path(loc) == path
