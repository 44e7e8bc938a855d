"""The sender: an asyncio task in every API replica that delivers the outbox.

Each round claims a batch of due messages (a short transaction, see
:mod:`clef_pro_api.services.outbox`), delivers them concurrently through the
backend of their channel type with no transaction open, then settles each
attempt. An idle sender looks again every ``poll_seconds``, or at once when a
request in its own replica commits a report that queued messages.

Database calls run in worker threads (the service uses synchronous SQLAlchemy),
so the event loop keeps serving requests while the sender works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from clef_pro.domain.notify import DeliveryStatus, RetryPolicy
from clef_pro_api import metrics
from clef_pro_api.notifications.backend import Backend, Delivery, DeliveryError
from clef_pro_api.notifications.registry import backend_states, build_backends
from clef_pro_api.services import checks, outbox
from clef_pro_api.settings import Settings
from clef_pro_api.storage.db import transaction
from clef_pro_api.storage.models import utcnow

log = logging.getLogger(__name__)

#: Tries at recording an outcome before leaving the message to its lease. A
#: delivered message whose outcome is lost is sent again: keep that rare.
SETTLE_TRIES = 4


class Sender:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        backends: Mapping[str, Backend],
        *,
        policy: RetryPolicy,
        batch_size: int,
        poll_seconds: float,
        lease_seconds: float,
        sender_address: str | None,
        random: Callable[[], float] = random.random,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._backends = dict(backends)
        self._policy = policy
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._lease_seconds = lease_seconds
        self._sender_address = sender_address
        self._random = random
        self._clock = clock
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def channel_types(self) -> frozenset[str]:
        return frozenset(self._backends)

    def start(self) -> None:
        """Start the loop on the running event loop (the app's lifespan)."""
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="clef-pro-outbox-sender")

    def wake(self) -> None:
        """Look for due messages now. Safe to call from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            # The loop may close between the check and the call (shutdown).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake.set)

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish the round in flight (up to ``grace_seconds``), then close the backends.

        A round cut short leaves its messages claimed; they are sent again
        once the lease ends, by this replica after a restart or by another.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), grace_seconds)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        for backend in self._backends.values():
            await backend.aclose()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                claimed = await self.run_once()
            except SQLAlchemyError as error:
                log.warning(
                    "outbox sender: the database failed (%s); trying again in %.1fs",
                    type(error).__name__,
                    self._poll_seconds,
                )
                claimed = 0
            except Exception:
                log.exception("outbox sender: unexpected failure; trying again")
                claimed = 0
            if claimed == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_seconds)

    async def run_once(self) -> int:
        """One round: claim due messages, deliver them, settle. Returns how many.

        Outcomes are recorded as deliveries finish, every outcome that is ready
        in one transaction (a group commit): a mail is marked sent moments
        after the server took it, and a busy sender pays one commit for many.
        """
        if not self._backends:
            return 0
        claims = await asyncio.to_thread(self._claim)
        if not claims:
            return 0
        finished: asyncio.Queue[outbox.Outcome] = asyncio.Queue()

        async def deliver(claim: outbox.Claim) -> None:
            started = time.perf_counter()
            try:
                outcome = await self._attempt(claim)
            except Exception as error:  # a bug: still settle, or the round would wait forever
                log.exception("notification %s: delivery failed", claim.notification_id)
                outcome = outbox.Outcome(claim, f"unexpected {type(error).__name__}")
            metrics.NOTIFICATION_DELIVERY_SECONDS.labels(claim.channel_type).observe(
                time.perf_counter() - started
            )
            finished.put_nowait(outcome)

        deliveries = [asyncio.create_task(deliver(claim)) for claim in claims]
        try:
            settled = 0
            while settled < len(claims):
                group = [await finished.get()]
                while not finished.empty():
                    group.append(finished.get_nowait())
                statuses = await self._settle(group)
                for outcome, status in zip(group, statuses, strict=True):
                    self._report(outcome, status)
                settled += len(group)
        finally:
            for task in deliveries:
                task.cancel()
        return len(claims)

    def _claim(self) -> list[outbox.Claim]:
        with transaction(self._sessions) as session:
            return outbox.claim_due(
                session,
                channel_types=self.channel_types,
                limit=self._batch_size,
                lease_seconds=self._lease_seconds,
                sender_address=self._sender_address,
                now=self._clock(),
            )

    def _report(self, outcome: outbox.Outcome, status: DeliveryStatus | None) -> None:
        claim = outcome.claim
        kind = claim.channel_type
        if outcome.error is None:
            metrics.NOTIFICATIONS_SENT.labels(kind).inc()
            return
        metrics.NOTIFICATION_FAILURES.labels(kind).inc()
        if status is DeliveryStatus.DEAD:
            metrics.NOTIFICATIONS_DEAD.labels(kind).inc()
            log.warning(
                "notification %s to channel %r of %s is dead after %d attempt(s): %s",
                claim.notification_id,
                claim.channel_name,
                claim.digest.integration_id,
                claim.attempt,
                outcome.error,
            )
        else:
            log.info(
                "notification %s to channel %r: attempt %d failed (%s); will retry",
                claim.notification_id,
                claim.channel_name,
                claim.attempt,
                outcome.error,
            )

    async def _attempt(self, claim: outbox.Claim) -> outbox.Outcome:
        if claim.channel is None:
            return outbox.Outcome(
                claim,
                f"channel {claim.channel_name!r} is no longer configured "
                "(or its integration was deleted)",
                permanent=True,
            )
        delivery = Delivery(
            notification_id=claim.notification_id,
            message_id=claim.message_id,
            attempt=claim.attempt,
            created_at=claim.created_at,
            channel=claim.channel,
            digest=claim.digest,
        )
        try:
            await self._backends[claim.channel_type].send(delivery)
        except DeliveryError as error:
            return outbox.Outcome(
                claim, str(error), permanent=error.permanent, retry_after=error.retry_after
            )
        except Exception as error:
            log.exception("notification %s: the backend failed", claim.notification_id)
            return outbox.Outcome(claim, f"unexpected {type(error).__name__} in the backend")
        return outbox.Outcome(claim)

    async def _settle(self, outcomes: list[outbox.Outcome]) -> list[DeliveryStatus | None]:
        for attempt in range(SETTLE_TRIES):
            try:
                return await asyncio.to_thread(self._settle_now, outcomes)
            except SQLAlchemyError as error:
                if attempt == SETTLE_TRIES - 1:
                    log.warning(
                        "could not record the outcome of %d notification(s) (%s); they will "
                        "be tried again when their claims expire",
                        len(outcomes),
                        type(error).__name__,
                    )
                    break
                await asyncio.sleep(0.25 * 2**attempt)
        return [None] * len(outcomes)

    def _settle_now(self, outcomes: list[outbox.Outcome]) -> list[DeliveryStatus | None]:
        with transaction(self._sessions) as session:
            return outbox.settle(
                session, outcomes, policy=self._policy, random=self._random, now=self._clock()
            )


class Checker:
    """Runs :func:`checks.run_checks` every ``interval`` seconds, in every replica
    (whether or not it sends), and wakes the sender when it queued messages."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        interval: float,
        wake: Callable[[], None],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._wake = wake
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clef-pro-checks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                result = await asyncio.to_thread(self.run_once)
            except SQLAlchemyError as error:
                log.warning("checks: the database failed (%s)", type(error).__name__)
            except Exception:
                log.exception("checks: unexpected failure")
            else:
                if result.notifications:
                    self._wake()
            await asyncio.sleep(self._interval)

    def run_once(self) -> checks.CheckResult:
        with transaction(self._sessions) as session:
            result = checks.run_checks(session, now=self._clock())
        if result.expired_acknowledgements or result.silent_alerts:
            log.info(
                "checks: %d acknowledgement(s) ran out, %d silent-integration alert(s) raised",
                result.expired_acknowledgements,
                result.silent_alerts,
            )
        return result


def start_checker(
    settings: Settings, sessions: sessionmaker[Session], sender: Sender | None
) -> Checker:
    checker = Checker(
        sessions,
        interval=settings.notify_check_seconds,
        wake=sender.wake if sender is not None else (lambda: None),
    )
    checker.start()
    return checker


def start_sender(settings: Settings, sessions: sessionmaker[Session]) -> Sender | None:
    """Say what this replica delivers, and start its sender if it delivers anything.

    Called from the app's lifespan. Channel types without a backend (email
    with no SMTP server) keep their messages in the outbox: the log says so
    here, once, and the read API says so on every status call.
    """
    for state in backend_states(settings):
        if not state.enabled:
            log.warning("%s notifications: %s", state.channel_type, state.reason)
    backends = build_backends(settings)
    if not backends:
        return None
    sender = Sender(
        sessions,
        backends,
        policy=RetryPolicy(
            max_attempts=settings.notify_max_attempts,
            base_seconds=settings.notify_retry_base_seconds,
            max_seconds=settings.notify_retry_max_seconds,
        ),
        batch_size=settings.notify_batch_size,
        poll_seconds=settings.notify_poll_seconds,
        lease_seconds=settings.notify_lease_seconds,
        sender_address=settings.smtp_from,
    )
    sender.start()
    return sender
