"""The one small interface every delivery backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from clef_pro.domain.config import AnyChannel
from clef_pro.domain.notify import Digest


@dataclass(frozen=True, slots=True)
class Delivery:
    """One attempt at delivering one outbox message to one channel."""

    notification_id: str
    #: Stable across attempts: a resend is recognisable as the same message.
    message_id: str
    #: 1 for the first attempt.
    attempt: int
    created_at: datetime
    channel: AnyChannel
    digest: Digest


class DeliveryError(Exception):
    """The destination did not take the message.

    ``permanent`` means trying again cannot help (the recipient does not
    exist, the endpoint refuses the request): the message is marked dead at
    once instead of being retried. The text is recorded with the attempt and
    shown by the read API, so it must never carry a secret or a webhook URL.
    ``retry_after`` is the destination's own wish (``Retry-After``, in seconds):
    the next attempt comes no sooner.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Backend(Protocol):
    #: The ``type`` of the channels this backend delivers to.
    channel_type: ClassVar[str]

    async def send(self, delivery: Delivery) -> None:
        """Deliver, or raise :class:`DeliveryError`."""

    async def aclose(self) -> None:
        """Release connections; called once when the sender stops."""
