"""Severities and cell health statuses, and the one place that orders them.

The Clef CLI calls its highest level ``error`` while the product and its
resources say ``critical``; the contract makes them the same level, so the
translation happens here, once, for every caller.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Final


class Severity(enum.StrEnum):
    """How bad a policy failure is. Compare by :attr:`rank`, never by name."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def admits(self, severity: Severity) -> bool:
        """Whether a filter set to this minimum lets ``severity`` through."""
        return severity.rank >= self.rank

    @classmethod
    def highest(cls, severities: Iterable[Severity]) -> Severity | None:
        return max(severities, key=lambda s: s.rank, default=None)


_RANK: Final = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

#: Words the wire accepts for each severity. ``error`` is the CLI's name for critical.
SEVERITY_ALIASES: Final[dict[str, Severity]] = {
    "info": Severity.INFO,
    "warning": Severity.WARNING,
    "critical": Severity.CRITICAL,
    "error": Severity.CRITICAL,
}


def parse_severity(value: str) -> Severity:
    """Read a wire severity; raises ``ValueError`` naming the accepted words."""
    try:
        return SEVERITY_ALIASES[value]
    except KeyError:
        accepted = ", ".join(SEVERITY_ALIASES)
        raise ValueError(f"severity must be one of: {accepted}") from None


class HealthStatus(enum.StrEnum):
    """A matrix cell's health, as the CLI reports it."""

    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def badness(self) -> int:
        """Order for 'worst cell' summaries: unknown sits between healthy and warning."""
        return _BADNESS[self]


_BADNESS: Final = {
    HealthStatus.HEALTHY: 0,
    HealthStatus.UNKNOWN: 1,
    HealthStatus.WARNING: 2,
    HealthStatus.CRITICAL: 3,
}
