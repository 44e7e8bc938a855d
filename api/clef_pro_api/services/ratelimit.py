"""Per-key token buckets: how many requests a key may make, in this replica.

Used at the OTLP door, per integration: a CLI backfilling a long gap pushes
one request per commit back to back, so the burst is generous; a runaway
collector or a leaked key is slowed down with ``429`` and ``Retry-After``
(which an OpenTelemetry exporter honours) instead of taking every worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second sustained, ``burst`` at once; ``rate`` 0 is no limit.

    Thread-safe: requests are admitted from the worker threads.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> float | None:
        """``None`` if a request for ``key`` may go now, else seconds until one may."""
        if self.rate <= 0:
            return None
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.rate
