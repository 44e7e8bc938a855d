"""The alert lifecycle, as a pure state machine.

An alert is identified by (integration, ruleId, canonical scope). Its status is
a fact about the code, never a human decision:

    (none) --failing--> OPEN --failing--> OPEN (recurring)
    OPEN --acknowledge [for a while]--> OPEN, acknowledged (only silences notifications)
    OPEN, acknowledged --acknowledgement expires--> OPEN (notifies again)
    OPEN --passing, or absent from a report that covers its scope--> RESOLVED
    RESOLVED is final; the next failure opens a *new* alert.

One alert is about the integration rather than a rule: ``clef-pro/silent``
opens when no HEAD report arrived for the integration's ``expectReportsEvery``,
recurs for every further window of silence, and the next HEAD report resolves
it (:func:`check_silence`).

:func:`evaluate` turns the open alerts and the integration's new HEAD report
into transitions; the service applies them in one transaction. Keeping this
pure means every rule of the lifecycle is tested without a database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from clef_pro.domain.durations import describe
from clef_pro.domain.report import PolicyResult, Report
from clef_pro.domain.scope import Scope
from clef_pro.domain.severity import Severity


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertEvent(enum.StrEnum):
    """What happened to an alert: a report opened, repeated or resolved it
    (recorded per report and alert), or a person acknowledged it."""

    OPENED = "opened"
    RECURRING = "recurring"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


#: The integration-level alert of an integration that stopped reporting.
SILENT_RULE_ID: Final = "clef-pro/silent"
SILENT_RULE_NAME: Final = "Reports stopped arriving"
SILENT_SCOPE: Final = "*"


class InvalidTransition(Exception):
    """A transition the lifecycle does not allow, such as reopening a resolved alert."""


@dataclass(frozen=True, slots=True)
class AlertKey:
    rule_id: str
    scope: str


@dataclass(frozen=True, slots=True)
class AlertState:
    """The part of an alert the lifecycle reasons about."""

    status: AlertStatus = AlertStatus.OPEN
    acknowledged: bool = False
    #: When the acknowledgement ends; ``None``: while the alert is open.
    acknowledged_until: datetime | None = None

    def is_acknowledged(self, now: datetime) -> bool:
        """Whether notifications are silenced at ``now``."""
        return self.acknowledged and (
            self.acknowledged_until is None or now < self.acknowledged_until
        )

    def acknowledgement_expired(self, now: datetime) -> bool:
        """An acknowledgement that has run out: the alert notifies again."""
        return self.acknowledged and not self.is_acknowledged(now)

    def on_acknowledgement_expired(self) -> AlertState:
        return AlertState(self.status, acknowledged=False)

    def on_failing(self) -> AlertState:
        if self.status is not AlertStatus.OPEN:
            raise InvalidTransition("a resolved alert never reopens; a new alert is opened")
        return self

    def on_passing(self) -> AlertState:
        if self.status is not AlertStatus.OPEN:
            raise InvalidTransition("the alert is already resolved")
        return AlertState(AlertStatus.RESOLVED, self.acknowledged)

    def on_acknowledge(
        self, now: datetime | None = None, duration: timedelta | None = None
    ) -> AlertState:
        """Acknowledge, for ``duration`` from ``now`` or for as long as it is open."""
        if self.status is not AlertStatus.OPEN:
            raise InvalidTransition("only an open alert can be acknowledged")
        if duration is not None and (now is None or duration <= timedelta(0)):
            raise InvalidTransition("an acknowledgement for a while needs a positive duration")
        until = now + duration if duration is not None and now is not None else None
        return AlertState(self.status, acknowledged=True, acknowledged_until=until)


@dataclass(frozen=True, slots=True)
class OpenAlert:
    alert_id: str
    key: AlertKey
    #: Whether it is acknowledged now (an expired acknowledgement is not).
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class Observation:
    """Every policy result of one report for one alert key, folded into one."""

    key: AlertKey
    scope: Scope
    failing: bool
    rule_name: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Transition:
    event: AlertEvent
    key: AlertKey
    #: ``None`` when the transition opens a new alert.
    alert_id: str | None
    #: ``None`` when an alert resolves because its result disappeared.
    observation: Observation | None


def observe(results: Iterable[PolicyResult]) -> dict[AlertKey, Observation]:
    """Fold a report's policy results by alert key.

    The CLI may send several lines for one rule and scope. Any failing line
    makes the key fail, and the most severe failing line speaks for it.
    """
    folded: dict[AlertKey, Observation] = {}
    for result in results:
        key = AlertKey(result.rule_id, result.canonical_scope)
        candidate = Observation(
            key=key,
            scope=result.scope_value,
            failing=not result.passed,
            rule_name=result.rule_name,
            severity=result.severity,
            message=result.message,
        )
        current = folded.get(key)
        if current is None or _speaks_louder(candidate, current):
            folded[key] = candidate
    return folded


def _speaks_louder(candidate: Observation, current: Observation) -> bool:
    if candidate.failing != current.failing:
        return candidate.failing
    return candidate.severity.rank > current.severity.rank


def evaluate(
    open_alerts: Iterable[OpenAlert], head: Report, *, covers_whole_repository: bool = False
) -> list[Transition]:
    """The transitions that ``head``, the integration's new HEAD report, causes.

    Failing keys open an alert or recur on the open one. An open alert
    resolves when the report carries its key passing, or no longer carries it
    while its summary still covers the alert's scope: a report filtered to
    other namespaces resolves nothing outside them. A report that is known to
    cover the whole repository (an OTLP report push: it cannot be filtered)
    covers every scope.
    """
    observations = observe(head.policy_results)
    open_by_key = {alert.key: alert for alert in open_alerts}
    # The integration reported again: it is no longer silent, whatever it says.
    observations.pop(AlertKey(SILENT_RULE_ID, SILENT_SCOPE), None)
    transitions: list[Transition] = []

    for key, observation in observations.items():
        alert = open_by_key.get(key)
        if observation.failing:
            if alert is None:
                transitions.append(Transition(AlertEvent.OPENED, key, None, observation))
            else:
                AlertState(acknowledged=alert.acknowledged).on_failing()
                transitions.append(
                    Transition(AlertEvent.RECURRING, key, alert.alert_id, observation)
                )
        elif alert is not None:
            AlertState(acknowledged=alert.acknowledged).on_passing()
            transitions.append(Transition(AlertEvent.RESOLVED, key, alert.alert_id, observation))

    namespaces = frozenset(head.summary.namespaces)
    environments = frozenset(head.summary.environments)
    for key, alert in open_by_key.items():
        if key.rule_id == SILENT_RULE_ID or (
            key not in observations
            and (
                covers_whole_repository
                or Scope.parse(key.scope).is_covered_by(namespaces, environments)
            )
        ):
            transitions.append(Transition(AlertEvent.RESOLVED, key, alert.alert_id, None))
    return transitions


@dataclass(frozen=True, slots=True)
class SilenceCheck:
    """What a check of a quiet integration does: an event for the silent alert
    (``None``: nothing yet) and when to look again."""

    event: AlertEvent | None
    next_check: datetime | None
    message: str = ""


def check_silence(
    *,
    window: timedelta | None,
    last_report_at: datetime,
    silent_alert_open: bool,
    now: datetime,
) -> SilenceCheck:
    """The silent alert's next step, ``now``, for an integration whose last HEAD
    report (or, before any, whose configuration) dates from ``last_report_at``.

    No report for ``window``: the alert opens. Each further ``window`` of
    silence it recurs, like a report that still fails. Without a window
    there is nothing to expect (an open silent alert waits for the next
    report, which alone closes an alert).
    """
    if window is None:
        return SilenceCheck(None, None)
    quiet = now - last_report_at
    if quiet < window:
        return SilenceCheck(None, last_report_at + window)
    message = f"No report for {describe(quiet)} (expected at least every {describe(window)})"
    event = AlertEvent.RECURRING if silent_alert_open else AlertEvent.OPENED
    return SilenceCheck(event, now + window, message)
