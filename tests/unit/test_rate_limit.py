from __future__ import annotations

import pytest

from clef_pro_api.services.ratelimit import FailureLimiter, RateLimiter, TooManyFailures


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_then_the_sustained_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.admit("a") for _ in range(3)] == [None, None, None]
    wait = limiter.admit("a")
    assert wait is not None
    assert 0.4 < wait <= 0.5
    clock.now += 0.5
    assert limiter.admit("a") is None
    assert limiter.admit("a") is not None


def test_keys_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=Clock())
    assert limiter.admit("a") is None
    assert limiter.admit("a") is not None
    assert limiter.admit("b") is None


def test_a_rate_of_zero_admits_everything() -> None:
    limiter = RateLimiter(rate=0, burst=1, clock=Clock())
    assert all(limiter.admit("a") is None for _ in range(1000))


# ---------------------------------------------------------------- failed authentication


def test_only_failures_use_up_a_clients_allowance_and_then_every_attempt_waits() -> None:
    clock = Clock()
    limiter = FailureLimiter(rate=0.1, burst=3, clock=clock)
    for _ in range(10):
        limiter.check("10.0.0.1", "sign-in")  # checks alone never count
    for _ in range(3):
        limiter.check("10.0.0.1", "sign-in")
        limiter.failed("10.0.0.1", "sign-in")
    with pytest.raises(TooManyFailures) as refused:
        limiter.check("10.0.0.1", "sign-in")
    assert 9 < refused.value.retry_after <= 10
    assert refused.value.retry_after_header == "10"
    clock.now += 10
    limiter.check("10.0.0.1", "sign-in")


def test_failures_count_per_address_and_per_kind_of_credential() -> None:
    limiter = FailureLimiter(rate=0.1, burst=1, clock=Clock())
    limiter.failed("10.0.0.1", "api-key")
    with pytest.raises(TooManyFailures):
        limiter.check("10.0.0.1", "api-key")
    limiter.check("10.0.0.2", "api-key")
    limiter.check("10.0.0.1", "sign-in")
    limiter.check("10.0.0.1", "admin-token")


def test_many_addresses_do_not_grow_the_limiter_without_bound() -> None:
    clock = Clock()
    limiter = FailureLimiter(rate=1, burst=1, clock=clock)
    limiter.MAX_CLIENTS = 100
    for number in range(1000):
        clock.now += 1  # each older bucket has refilled by the next failure
        limiter.failed(f"10.0.{number // 256}.{number % 256}", "sign-in")
    assert len(limiter._limiter._buckets) <= 101
