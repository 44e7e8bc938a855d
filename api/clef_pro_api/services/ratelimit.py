"""Per-key token buckets: how many requests a key may make, in this replica.

Used at the OTLP door, per integration: a CLI backfilling a long gap pushes
one request per commit back to back, so the burst is generous; a runaway
collector or a leaked key is slowed down with ``429`` and ``Retry-After``
(which an OpenTelemetry exporter honours) instead of taking every worker.

Also at every door that checks a credential, per client address: a guessed
admin token, API key or sign-in is slowed down to a few tries a minute.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


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

    def wait(self, key: str) -> float | None:
        """Like :meth:`admit` without taking a token: ``None`` if one is there."""
        if self.rate <= 0:
            return None
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return None
            tokens = min(self.burst, bucket.tokens + (self._clock() - bucket.updated) * self.rate)
            return None if tokens >= 1 else (1 - tokens) / self.rate

    def forget_full(self, limit: int) -> None:
        """Past ``limit`` keys, drop the buckets that have refilled (they hold
        nothing a fresh bucket would not), so many addresses cannot grow memory."""
        with self._lock:
            if len(self._buckets) <= limit:
                return
            now = self._clock()
            for key, bucket in list(self._buckets.items()):
                if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                    del self._buckets[key]


#: What a client failed to prove: each kind is limited on its own, so a
#: script guessing API keys does not lock people out of the sign-in form.
CredentialKind = Literal["sign-in", "admin-token", "api-key", "metrics-token"]


class TooManyFailures(Exception):
    """A client failed too often with one kind of credential; it may try again later."""

    def __init__(self, retry_after: float) -> None:
        super().__init__("too many failed authentication attempts")
        self.retry_after = retry_after

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))


class FailureLimiter:
    """Failed authentication attempts per (client address, credential kind).

    Only failures take tokens; once a client's bucket is empty every attempt of
    that kind is refused (right or wrong: a guess that happens to be right must
    not be told apart) until it refills. In each replica, like the OTLP limit.
    """

    #: Buckets kept before refilled ones are dropped.
    MAX_CLIENTS = 10_000

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limiter = RateLimiter(rate, burst, clock)

    def check(self, address: str, kind: CredentialKind) -> None:
        """Raise :class:`TooManyFailures` if ``address`` may not try ``kind`` now."""
        wait = self._limiter.wait(f"{kind}|{address}")
        if wait is not None:
            raise TooManyFailures(wait)

    def failed(self, address: str, kind: CredentialKind) -> None:
        self._limiter.admit(f"{kind}|{address}")
        self._limiter.forget_full(self.MAX_CLIENTS)
