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
later report.

Everything here is pure (no clock, no randomness of its own, no I/O), so the
whole policy is tested in microseconds and the service only moves rows.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
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
    def min_severity(self) -> Severity: ...

    @property
    def send_resolved(self) -> bool: ...


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

    def to_payload(self) -> dict[str, Any]:
        return {
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
        )


def qualifies(notice: AlertNotice, channel: ChannelRules) -> bool:
    """Whether ``channel`` is notified of ``notice`` (the spec's table)."""
    if not channel.min_severity.admits(notice.severity):
        return False
    if notice.event is AlertEvent.OPENED:
        return True
    if notice.event is AlertEvent.RECURRING:
        return not notice.acknowledged
    return channel.send_resolved and not notice.acknowledged


#: New alerts first, then the recurring ones, then (on opted-in channels) resolutions.
_EVENT_ORDER: Final = {AlertEvent.OPENED: 0, AlertEvent.RECURRING: 1, AlertEvent.RESOLVED: 2}


def _reading_order(notice: AlertNotice) -> tuple[int, int, str, str]:
    return (_EVENT_ORDER[notice.event], -notice.severity.rank, notice.rule_id, notice.scope)


def alerts_for_channel(
    notices: Iterable[AlertNotice], channel: ChannelRules
) -> tuple[AlertNotice, ...]:
    """The notices ``channel`` receives, in the order a message lists them:
    new first, then recurring, then resolved; most severe first within each."""
    return tuple(sorted((n for n in notices if qualifies(n, channel)), key=_reading_order))


@dataclass(frozen=True, slots=True)
class Digest:
    """What one message to one channel says about one report: the unit of the outbox."""

    integration_id: str
    integration_name: str
    report_id: str
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

    def _count(self, event: AlertEvent) -> int:
        return sum(1 for notice in self.alerts if notice.event is event)

    @property
    def failing(self) -> tuple[AlertNotice, ...]:
        return tuple(n for n in self.alerts if n.event is not AlertEvent.RESOLVED)

    @property
    def highest_severity(self) -> Severity | None:
        """The worst severity still failing, or of the resolutions if nothing fails."""
        worst = Severity.highest(n.severity for n in self.failing)
        return worst if worst is not None else Severity.highest(n.severity for n in self.alerts)

    def to_payload(self) -> dict[str, Any]:
        return {
            "integration": {"id": self.integration_id, "displayName": self.integration_name},
            "report": {"id": self.report_id, "commitSha": self.commit_sha, "branch": self.branch},
            "alerts": [notice.to_payload() for notice in self.alerts],
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Digest:
        return cls(
            integration_id=data["integration"]["id"],
            integration_name=data["integration"]["displayName"],
            report_id=data["report"]["id"],
            commit_sha=data["report"]["commitSha"],
            branch=data["report"]["branch"],
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
