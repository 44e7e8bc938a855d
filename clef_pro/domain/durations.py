"""Durations as Kubernetes and Alertmanager write them: ``24h``, ``1h30m``, ``90s``.

One reader for every duration in the product (key rotation grace periods,
repeat intervals, acknowledgement expiry, silent-integration windows), so a
value the CRD accepts is a value the service and the operator read alike.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Final

#: What a CRD's ``pattern`` and the config API accept.
DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"

#: The longest span any setting may be.
LONGEST: Final = timedelta(days=36_525)

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    """``1h30m``, ``90s``, ``250ms`` -> timedelta, as Kubernetes writes durations."""
    if not re.fullmatch(f"(?:{_PART.pattern})+", text):
        raise ValueError(f"not a duration like 24h or 1h30m: {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))
    if not seconds <= LONGEST.total_seconds():
        # Beyond this a moment plus the span leaves the calendar (an overflow, not a refusal).
        raise ValueError("is longer than 100 years")
    return timedelta(seconds=seconds)


def describe(span: timedelta) -> str:
    """A span for people: ``3d 4h``, ``2h 5m``, ``45s`` (two largest units)."""
    seconds = max(int(span.total_seconds()), 0)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts[:2])
