"""How the dashboard presents read models: times, health, severities, the
matrix grid, and the overview's sorting and filtering. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from clef_pro.domain.severity import HealthStatus, Severity
from clef_pro_api import schemas

# ---------------------------------------------------------------- times

_UNITS: Final = (
    # (limit in seconds below which this unit is used, seconds per unit, name)
    (90 * 60, 60, "minute"),
    (36 * 3600, 3600, "hour"),
    (45 * 86400, 86400, "day"),
    (365 * 86400, 30 * 86400, "month"),
)


def relative_time(then: datetime, now: datetime) -> str:
    """``3 minutes ago``, ``in 2 hours``, ``just now``: coarse on purpose; the
    exact time is shown on hover (:func:`exact_time`)."""
    seconds = (now - then).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    count, unit = 0, "year"
    for limit, size, name in _UNITS:
        if seconds < limit:
            count, unit = max(1, round(seconds / size)), name
            break
    else:
        count = max(1, round(seconds / (365 * 86400)))
    words = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {words}" if future else f"{words} ago"


def exact_time(moment: datetime) -> str:
    """``2026-05-09 21:33:05 UTC``: unambiguous, for the hover text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_epoch_ms(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def duration_text(seconds: float) -> str:
    """``45 minutes``, ``5.5 hours``, ``3.2 days``: a mean time, coarse on purpose."""
    if seconds < 90 * 60:
        minutes = max(1, round(seconds / 60))
        return f"{minutes} minute{'' if minutes == 1 else 's'}"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def short_sha(sha: str | None) -> str:
    return (sha or "")[:7]


# ---------------------------------------------------------------- health and severity


@dataclass(frozen=True, slots=True)
class Badge:
    """A status shown by colour (``css``), a symbol and a word: never colour alone."""

    css: str
    icon: str
    word: str


HEALTH: Final[Mapping[str, Badge]] = {
    HealthStatus.HEALTHY: Badge("healthy", "✓", "Healthy"),
    HealthStatus.WARNING: Badge("warning", "▲", "Warning"),
    HealthStatus.CRITICAL: Badge("critical", "✕", "Critical"),
    HealthStatus.UNKNOWN: Badge("unknown", "?", "Unknown"),
}
NO_DATA: Final = Badge("none", "\u2013", "No reports")  # an en dash

SEVERITY: Final[Mapping[str, Badge]] = {
    Severity.INFO: Badge("info", "i", "Info"),
    Severity.WARNING: Badge("warning", "▲", "Warning"),
    Severity.CRITICAL: Badge("critical", "✕", "Critical"),
}
PASSED: Final = Badge("healthy", "✓", "Passed")
FAILED: Final = Badge("critical", "✕", "Failed")


def health_badge(status: str | None) -> Badge:
    return HEALTH.get(status or "", NO_DATA)


def severity_badge(severity: str | None) -> Badge:
    return SEVERITY.get(severity or "", Badge("unknown", "?", (severity or "unknown").title()))


def result_severity_badge(severity: str | None, passed: bool | None) -> Badge:
    """A policy result's severity: alarming only when the rule failed. A passed
    rule's severity is a fact about the rule, shown in neutral grey."""
    badge = severity_badge(severity)
    return Badge("neutral", "", badge.word) if passed else badge


def outcome_badge(passed: bool | None) -> Badge:
    if passed is None:
        return NO_DATA
    return PASSED if passed else FAILED


def scope_text(scope: str | None) -> str:
    """Canonical scopes read better spelled out: ``*`` is the whole repository."""
    if not scope or scope == "*":
        return "all namespaces"
    namespace, _, environment = scope.partition("/")
    if namespace == "*":
        return f"every namespace / {environment}"
    if environment == "*":
        return f"{namespace} / every environment"
    return f"{namespace} / {environment}" if environment else namespace


# ---------------------------------------------------------------- the matrix


@dataclass(frozen=True, slots=True)
class DriftView:
    drifted: bool
    severity: str | None
    text: str


@dataclass(frozen=True, slots=True)
class MatrixCell:
    environment: str
    badge: Badge
    description: str


@dataclass(frozen=True, slots=True)
class MatrixRow:
    namespace: str
    #: One per environment, in the report's order; ``None`` where the report has no cell.
    cells: list[MatrixCell | None]
    drift: DriftView | None


def drift_view(entry: Mapping[str, Any]) -> DriftView:
    """Drift as the CLI sent it: a summary and severity (the spec's form) or a count."""
    drifted = bool(entry.get("isDrifted"))
    summary = entry.get("summary")
    count = entry.get("driftCount")
    if summary:
        text = str(summary)
    elif count is not None and drifted:
        text = f"{count} difference{'' if count == 1 else 's'} across environments"
    else:
        text = "Drifted across environments" if drifted else "No drift"
    return DriftView(drifted=drifted, severity=entry.get("severity"), text=text)


def matrix_rows(view: schemas.MatrixView) -> list[MatrixRow]:
    cells = {(cell["namespace"], cell["environment"]): cell for cell in view.cells}
    drift = {entry["namespace"]: drift_view(entry) for entry in view.drift}
    rows = []
    for namespace in view.namespaces:
        row_cells: list[MatrixCell | None] = []
        for environment in view.environments:
            cell = cells.get((namespace, environment))
            row_cells.append(
                MatrixCell(environment, health_badge(cell["healthStatus"]), cell["description"])
                if cell is not None
                else None
            )
        rows.append(MatrixRow(namespace, row_cells, drift.get(namespace)))
    return rows


# ---------------------------------------------------------------- the overview

#: Sort orders of the overview: query value -> label.
SORTS: Final = {
    "health": "Health",
    "name": "Name",
    "alerts": "Open alerts",
    "activity": "Last commit",
    "drift": "Drift",
}
DEFAULT_SORT: Final = "health"


def parse_sort(value: str | None) -> str:
    return value if value in SORTS else DEFAULT_SORT


def _name_key(item: schemas.IntegrationSummary) -> tuple[str, str]:
    return (item.display_name.casefold(), item.integration_id)


def _alerts_key(item: schemas.IntegrationSummary) -> tuple[int, int, int]:
    counts = item.open_alerts
    return (counts.critical, counts.warning, counts.info)


def _health_rank(item: schemas.IntegrationSummary) -> int:
    # Integrations that never reported sort after the healthy ones.
    return HealthStatus(item.worst_status).badness if item.worst_status is not None else -1


def sort_integrations(
    items: Iterable[schemas.IntegrationSummary], sort: str
) -> list[schemas.IntegrationSummary]:
    """Worst first for health, alerts and drift; newest first for activity;
    A to Z for name. Ties go by name, so the order is stable and predictable."""
    by_name = sorted(items, key=_name_key)
    if sort == "name":
        return by_name
    if sort == "health":
        return sorted(by_name, key=_health_rank, reverse=True)
    if sort == "alerts":
        return sorted(by_name, key=_alerts_key, reverse=True)
    if sort == "drift":
        return sorted(by_name, key=lambda item: len(item.drifted_namespaces), reverse=True)
    if sort == "activity":
        return sorted(
            by_name,
            key=lambda item: item.head.commit_timestamp if item.head is not None else -1,
            reverse=True,
        )
    raise ValueError(f"unknown sort {sort!r}")


def search_text(item: schemas.IntegrationSummary) -> str:
    """What the filter matches: name, id, repository and drifted namespaces."""
    parts = [item.display_name, item.integration_id, item.repository or ""]
    parts.extend(item.drifted_namespaces)
    return " ".join(parts).casefold()


def filter_integrations(
    items: Sequence[schemas.IntegrationSummary], query: str | None
) -> list[schemas.IntegrationSummary]:
    """Items whose text contains every word of ``query`` (case-insensitive)."""
    words = (query or "").casefold().split()
    return [item for item in items if all(word in search_text(item) for word in words)]


# ---------------------------------------------------------------- signing in


@dataclass(frozen=True, slots=True)
class TokenPlace:
    """Where the admin token is kept: ``hint`` (the operator's own words, e.g.
    the chart's ``kubectl`` command), ``data-dir`` (the embedded default's
    file), ``file``, ``variable`` or ``none``. Never the token itself."""

    kind: str
    where: str


# ---------------------------------------------------------------- notifications

NOTIFICATION: Final[Mapping[str, Badge]] = {
    "pending": Badge("pending", "…", "Queued"),
    "sending": Badge("pending", "…", "Sending"),
    "retrying": Badge("warning", "↻", "Retrying"),
    "sent": Badge("healthy", "✓", "Sent"),
    "dead": Badge("critical", "✕", "Failed"),
}


def notification_badge(status: str) -> Badge:
    return NOTIFICATION.get(status, Badge("unknown", "?", status.title()))
