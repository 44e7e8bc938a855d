"""What every HTTP backend shares: one JSON ``POST`` and what its outcome means.

A 2xx is delivered. 429 and 503 are retried no sooner than their
``Retry-After`` says; 408, 425 and other 5xx are retried with the usual
backoff, as are network errors; any other status is permanent and the
message is marked dead at once. Error texts say what went wrong in general
terms only: never the URL (it often carries a token), never what a name
resolved to, nor the difference between a closed port and a silent one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from clef_pro_api.notifications.backend import DeliveryError
from clef_pro_api.notifications.outbound import REFUSED_MESSAGE, DestinationRefused

log = logging.getLogger(__name__)

_RETRIED_STATUSES: Final = frozenset({408, 425, 429})
#: Longest ``Retry-After`` honoured; a longer one is taken as this.
MAX_RETRY_AFTER_SECONDS: Final = 24 * 3600.0


def json_body(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def require_scheme(url: str, *, allow_http: bool, what: str) -> None:
    if urlsplit(url).scheme != "https" and not allow_http:
        raise DeliveryError(
            f"the {what} URL is not https:// (CLEF_PRO_WEBHOOK_ALLOW_HTTP is off)", permanent=True
        )


async def post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    what: str,
) -> httpx.Response:
    """``POST`` ``body`` to ``url``; returns a 2xx response or raises :class:`DeliveryError`."""
    try:
        response = await client.post(url, content=body, headers=headers)
    except DestinationRefused as refused:
        # The reason (loopback, private, ...) is for the operator's log only.
        log.warning("a %s delivery was refused: its destination is %s", what, refused)
        raise DeliveryError(REFUSED_MESSAGE, permanent=True) from None
    except httpx.TimeoutException:
        raise DeliveryError(f"the {what} endpoint did not answer in time") from None
    except httpx.HTTPError:
        # The exception's text may contain the URL or an address: say no more.
        raise DeliveryError(f"could not reach the {what} endpoint") from None
    status = response.status_code
    if 200 <= status < 300:
        return response
    raise DeliveryError(
        f"the {what} endpoint answered HTTP {status}",
        permanent=status < 500 and status not in _RETRIED_STATUSES,
        retry_after=retry_after(response.headers.get("Retry-After"))
        if status in (429, 503)
        else None,
    )
