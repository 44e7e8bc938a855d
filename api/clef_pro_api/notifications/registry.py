"""Which backends this replica has, from its settings, and what it says about the rest.

Email needs an SMTP server (``CLEF_PRO_SMTP_HOST``); without one, email
messages are still written to the outbox and simply wait there, and both the
start-up log and the read API say so. The HTTP backends (webhook, Slack,
Teams, PagerDuty, Alertmanager) need no global setting; they share the
destination guard and its allow-list (``CLEF_PRO_NOTIFY_ALLOWED_NETWORKS``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clef_pro.domain.config import CHANNEL_TYPES
from clef_pro_api.notifications.alertmanager import AlertmanagerBackend
from clef_pro_api.notifications.backend import Backend
from clef_pro_api.notifications.email import EmailBackend, SmtpConfig
from clef_pro_api.notifications.pagerduty import PagerDutyBackend
from clef_pro_api.notifications.render import Links
from clef_pro_api.notifications.slack import SlackBackend
from clef_pro_api.notifications.teams import TeamsBackend
from clef_pro_api.notifications.webhook import WebhookBackend
from clef_pro_api.settings import Settings

HTTP_CHANNEL_TYPES = ("webhook", "slack", "teams", "pagerduty", "alertmanager")


@dataclass(frozen=True, slots=True)
class BackendState:
    channel_type: str
    #: Whether this replica delivers messages of this channel type.
    enabled: bool
    #: Why not, when it does not (an operator-facing sentence).
    reason: str | None = None


def backend_states(settings: Settings) -> list[BackendState]:
    if not settings.notify_sender:
        reason = "this replica does not send (CLEF_PRO_NOTIFY_SENDER=false)"
        return [BackendState(kind, False, reason) for kind in CHANNEL_TYPES]
    email = (
        BackendState("email", True)
        if settings.smtp_host
        else BackendState(
            "email",
            False,
            "notifications are queued but not sent: CLEF_PRO_SMTP_HOST is not set",
        )
    )
    return [email, *(BackendState(kind, True) for kind in HTTP_CHANNEL_TYPES)]


def build_backends(settings: Settings) -> dict[str, Backend]:
    """The backends of every enabled channel type (none when the sender is off)."""
    links = Links(settings.public_url)
    enabled = {state.channel_type for state in backend_states(settings) if state.enabled}
    backends: dict[str, Backend] = {}
    if "email" in enabled and settings.smtp_host:
        backends["email"] = EmailBackend(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port_value,
                sender=settings.smtp_from,
                username=settings.smtp_username,
                password=lambda: settings.smtp_password_value,
                use_tls=settings.smtp_tls,
                start_tls=settings.smtp_starttls,
                timeout_seconds=settings.smtp_timeout_seconds,
            ),
            links,
        )
    timeout = settings.webhook_timeout_seconds
    allowed = settings.allowed_networks
    allow_http = settings.webhook_allow_http
    http: dict[str, Callable[[], Backend]] = {
        "webhook": lambda: WebhookBackend(
            links, timeout_seconds=timeout, allow_http=allow_http, allowed_networks=allowed
        ),
        "slack": lambda: SlackBackend(
            links, timeout_seconds=timeout, allow_http=allow_http, allowed_networks=allowed
        ),
        "teams": lambda: TeamsBackend(
            links, timeout_seconds=timeout, allow_http=allow_http, allowed_networks=allowed
        ),
        "pagerduty": lambda: PagerDutyBackend(
            links, timeout_seconds=timeout, allow_http=allow_http, allowed_networks=allowed
        ),
        # In-cluster Alertmanagers usually speak plain http: always allowed.
        "alertmanager": lambda: AlertmanagerBackend(
            links, timeout_seconds=timeout, allowed_networks=allowed
        ),
    }
    for kind, build in http.items():
        if kind in enabled:
            backends[kind] = build()
    return backends
