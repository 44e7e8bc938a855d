"""Who hears of an alert, in what order, under what subject, and when to try again.

The spec's table is the rule this module encodes, for each alert event that a
HEAD report causes and each notification channel of the integration:

    opened                          -> notify
    recurring, not acknowledged     -> notify again, on every report
    recurring, acknowledged         -> never (acknowledging only stops notifications)
    resolved                        -> only on a channel that opts in (``sendResolved``),
                                       and never for an acknowledged alert

and a channel's minimum severity filters all of them: a channel set to
``critical`` never receives a warning. The acknowledged flag that counts is the
one at the time the report is processed, so an acknowledgement silences every
later report (until it expires, when the alert notifies again).

A channel's ``repeatInterval`` spaces out the recurring notices of one alert:
at most one per interval, counted from the last time that channel was told of
it (Alertmanager's ``repeat_interval``). Channels that mirror alert state at
the destination (PagerDuty incidents, Alertmanager alerts) also hear of
acknowledgements, and hear of every resolution of an alert they were told of,
since otherwise their copy would stay open forever; Alertmanager, which keeps
its own copy of every open alert, gets every recurring alert, acknowledged or
not, and decides itself whom to notify.

Everything here is pure (no clock, no randomness of its own, no I/O), so the
whole policy is tested in microseconds and the service only moves rows.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from clef_pro.domain.lifecycle import AlertEvent
from clef_pro.domain.severity import Severity


class DeliveryStatus(enum.StrEnum):
    """Where an outbox message stands. ``sent`` and ``dead`` are final; dead
    messages are kept and shown, never deleted."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    DEAD = "dead"


#: Not yet delivered and not given up on: the backlog, and what a sender may
#: claim once it is due (a ``sending`` message is due when its claim expired).
UNDELIVERED: Final = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING)


class ChannelRules(Protocol):
    """What a channel says about which alerts it wants (every channel type has it)."""

    @property
    def name(self) -> str: ...

    @property
    def min_severity(self) -> Severity: ...

    @property
    def send_resolved(self) -> bool: ...

    @property
    def repeat_every(self) -> timedelta | None: ...

    @property
    def mirrors_alert_state(self) -> bool: ...

    @property
    def mirrors_open_alerts(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """One alert event of one report, as a notification tells of it.

    Only what the report service already stores and shows: rule, canonical
    scope, severity, the CLI's screened message and commits. Never more.
    """

    alert_id: str
    event: AlertEvent
    rule_id: str
    rule_name: str
    scope: str
    severity: Severity
    message: str
    acknowledged: bool = False
    introduced_by_commit: str = ""
    opened_at: datetime | None = None
    #: Who acknowledged it (an ``acknowledged`` event, or an acknowledged alert).
    acknowledged_by: str | None = None
    #: A recurring notice sent because an acknowledgement ran out.
    acknowledgement_expired: bool = False
    #: When each channel (by name) was last told of the alert; what
    #: ``repeatInterval`` counts from. Used to decide, never sent.
    last_notified: Mapping[str, datetime] = field(default_factory=dict, compare=False)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "alertId": self.alert_id,
            "event": self.event.value,
            "ruleId": self.rule_id,
            "ruleName": self.rule_name,
            "scope": self.scope,
            "severity": self.severity.value,
            "message": self.message,
            "acknowledged": self.acknowledged,
            "introducedByCommit": self.introduced_by_commit,
        }
        if self.opened_at is not None:
            payload["openedAt"] = self.opened_at.isoformat()
        if self.acknowledged_by is not None:
            payload["acknowledgedBy"] = self.acknowledged_by
        if self.acknowledgement_expired:
            payload["acknowledgementExpired"] = True
        return payload

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> AlertNotice:
        return cls(
            alert_id=data["alertId"],
            event=AlertEvent(data["event"]),
            rule_id=data["ruleId"],
            rule_name=data["ruleName"],
            scope=data["scope"],
            severity=Severity(data["severity"]),
            message=data["message"],
            acknowledged=bool(data.get("acknowledged", False)),
            introduced_by_commit=data.get("introducedByCommit", ""),
            opened_at=datetime.fromisoformat(data["openedAt"]) if "openedAt" in data else None,
            acknowledged_by=data.get("acknowledgedBy"),
            acknowledgement_expired=bool(data.get("acknowledgementExpired", False)),
        )


def qualifies(notice: AlertNotice, channel: ChannelRules, now: datetime | None = None) -> bool:
    """Whether ``channel`` is notified of ``notice`` (the spec's table, see the
    module docs). ``now`` is when the message is queued: without it, repeat
    intervals are not applied."""
    told_before = channel.name in notice.last_notified
    if notice.event is AlertEvent.ACKNOWLEDGED:
        return channel.mirrors_alert_state and told_before
    if notice.event is AlertEvent.RESOLVED and channel.mirrors_alert_state:
        return told_before
    if not channel.min_severity.admits(notice.severity):
        return False
    if notice.event is AlertEvent.OPENED:
        return True
    if notice.event is AlertEvent.RECURRING:
        if channel.mirrors_open_alerts:
            return True
        if notice.acknowledged:
            return False
        return notice.acknowledgement_expired or not _too_soon(notice, channel, now)
    return channel.send_resolved and not notice.acknowledged


def _too_soon(notice: AlertNotice, channel: ChannelRules, now: datetime | None) -> bool:
    interval = channel.repeat_every
    last = notice.last_notified.get(channel.name)
    return interval is not None and now is not None and last is not None and now - last < interval


#: New alerts first, then the recurring ones, then (on opted-in channels) resolutions.
_EVENT_ORDER: Final = {
    AlertEvent.OPENED: 0,
    AlertEvent.RECURRING: 1,
    AlertEvent.ACKNOWLEDGED: 2,
    AlertEvent.RESOLVED: 3,
}


def _reading_order(notice: AlertNotice) -> tuple[int, int, str, str]:
    return (_EVENT_ORDER[notice.event], -notice.severity.rank, notice.rule_id, notice.scope)


def alerts_for_channel(
    notices: Iterable[AlertNotice], channel: ChannelRules, now: datetime | None = None
) -> tuple[AlertNotice, ...]:
    """The notices ``channel`` receives, in the order a message lists them:
    new first, then recurring, then resolved; most severe first within each."""
    return tuple(sorted((n for n in notices if qualifies(n, channel, now)), key=_reading_order))


def counts_as_notified(notice: AlertNotice) -> bool:
    """Whether telling a channel of ``notice`` restarts its repeat interval."""
    return notice.event in (AlertEvent.OPENED, AlertEvent.RECURRING)


@dataclass(frozen=True, slots=True)
class Digest:
    """What one message to one channel says about one report: the unit of the outbox."""

    integration_id: str
    integration_name: str
    #: The report that caused the message; ``None`` for what happens between
    #: reports (an acknowledgement, its expiry, silence, an Alertmanager refresh).
    report_id: str | None
    commit_sha: str
    branch: str
    alerts: tuple[AlertNotice, ...] = field(default_factory=tuple)

    @property
    def opened(self) -> int:
        return self._count(AlertEvent.OPENED)

    @property
    def recurring(self) -> int:
        return self._count(AlertEvent.RECURRING)

    @property
    def resolved(self) -> int:
        return self._count(AlertEvent.RESOLVED)

    @property
    def acknowledged(self) -> int:
        return self._count(AlertEvent.ACKNOWLEDGED)

    def _count(self, event: AlertEvent) -> int:
        return sum(1 for notice in self.alerts if notice.event is event)

    @property
    def failing(self) -> tuple[AlertNotice, ...]:
        return tuple(n for n in self.alerts if n.event in (AlertEvent.OPENED, AlertEvent.RECURRING))

    @property
    def highest_severity(self) -> Severity | None:
        """The worst severity still failing, or of the resolutions if nothing fails."""
        worst = Severity.highest(n.severity for n in self.failing)
        return worst if worst is not None else Severity.highest(n.severity for n in self.alerts)

    def to_payload(self) -> dict[str, Any]:
        return {
            "integration": {"id": self.integration_id, "displayName": self.integration_name},
            "report": {"id": self.report_id, "commitSha": self.commit_sha, "branch": self.branch}
            if self.report_id is not None
            else None,
            "alerts": [notice.to_payload() for notice in self.alerts],
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Digest:
        report = data.get("report") or {}
        return cls(
            integration_id=data["integration"]["id"],
            integration_name=data["integration"]["displayName"],
            report_id=report.get("id"),
            commit_sha=report.get("commitSha", ""),
            branch=report.get("branch", ""),
            alerts=tuple(AlertNotice.from_payload(item) for item in data["alerts"]),
        )


SUBJECT_PREFIX: Final = "[Clef Pro]"
_MAX_NAME_IN_SUBJECT: Final = 80
_WHITESPACE = re.compile(r"\s+")


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (no CR/LF can reach a mail header) and at most ``limit`` long."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def subject(digest: Digest) -> str:
    """E.g. ``[Clef Pro] Payments: 1 critical, 2 new, 1 recurring``.

    Names the integration, how many alerts still failing are at the highest
    severity, and the counts of new, recurring and resolved alerts.
    """
    name = one_line(digest.integration_name, _MAX_NAME_IN_SUBJECT)
    parts: list[str] = []
    failing = digest.failing
    worst = Severity.highest(n.severity for n in failing)
    if worst is not None:
        parts.append(f"{sum(1 for n in failing if n.severity is worst)} {worst.value}")
    for count, word in (
        (digest.opened, "new"),
        (digest.recurring, "recurring"),
        (digest.acknowledged, "acknowledged"),
        (digest.resolved, "resolved"),
    ):
        if count:
            parts.append(f"{count} {word}")
    return f"{SUBJECT_PREFIX} {name}: {', '.join(parts) or 'no alerts'}"


_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*$")
DEFAULT_MESSAGE_ID_DOMAIN: Final = "clef-pro.invalid"


def message_id(notification_id: str, sender_address: str | None) -> str:
    """A stable ``Message-ID`` for a notification: the same on every attempt,
    so a resend after a crash is recognisable as the same message."""
    domain = (sender_address or "").rpartition("@")[2].strip().strip(">").lower()
    if not _DOMAIN.match(domain):
        domain = DEFAULT_MESSAGE_ID_DOMAIN
    return f"<{notification_id}@{domain}>"


# ------------------------------------------------------------------ retries


@dataclass(frozen=True, slots=True)
class RetryAt:
    """Try again after ``delay_seconds``."""

    delay_seconds: float


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Stop trying: the message is dead (kept and shown, never deleted)."""

    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, and a limit on attempts.

    The n-th retry waits a random time in ``[0, min(cap, base * 2**(n-1)))``:
    full jitter spreads the retries of many replicas after an outage, so a
    recovering SMTP server is not hit by all of them at once.
    """

    max_attempts: int = 10
    base_seconds: float = 30.0
    max_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("need 0 < base_seconds <= max_seconds")

    def ceiling(self, attempts_made: int) -> float:
        """The longest wait after ``attempts_made`` failed attempts."""
        exponent = min(max(attempts_made - 1, 0), 62)
        return float(min(self.max_seconds, self.base_seconds * 2**exponent))

    def after_failure(
        self,
        attempts_made: int,
        *,
        permanent: bool,
        random: Callable[[], float],
        retry_after: float | None = None,
    ) -> RetryAt | GiveUp:
        """What to do after the ``attempts_made``-th attempt failed.

        ``random`` returns a float in ``[0, 1)`` (``random.random`` in the
        service, a fixed function in tests). ``retry_after`` is how long the
        destination asked us to wait (a 429's ``Retry-After``): the retry
        comes no sooner, whatever the backoff would say.
        """
        if permanent:
            return GiveUp("the destination refused the message permanently")
        if attempts_made >= self.max_attempts:
            return GiveUp(f"gave up after {attempts_made} attempts")
        fraction = min(max(random(), 0.0), 1.0)
        delay = self.ceiling(attempts_made) * fraction
        if retry_after is not None:
            delay = max(delay, retry_after)
        return RetryAt(delay)
