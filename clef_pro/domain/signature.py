"""The signature on every webhook request, so a receiver can trust what it got.

A receiver holds the channel's signing key and checks two headers:

    X-Clef-Pro-Timestamp: <Unix seconds when the request was signed>
    X-Clef-Pro-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>

Signing the timestamp together with the body is what stops a replay: an
attacker who captured one request cannot change its timestamp without breaking
the signature, and the receiver refuses timestamps older than a few minutes.
Deliveries are at-least-once, so receivers should also drop a repeated
``X-Clef-Pro-Delivery`` id.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

SIGNATURE_HEADER: Final = "X-Clef-Pro-Signature"
TIMESTAMP_HEADER: Final = "X-Clef-Pro-Timestamp"
DELIVERY_HEADER: Final = "X-Clef-Pro-Delivery"
SCHEME: Final = "sha256="
#: How far a receiver should accept a timestamp from its own clock.
DEFAULT_TOLERANCE_SECONDS: Final = 300


def signed_bytes(timestamp: int, body: bytes) -> bytes:
    return str(timestamp).encode() + b"." + body


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The ``X-Clef-Pro-Signature`` header value for ``body`` sent at ``timestamp``."""
    return SCHEME + hmac.new(key, signed_bytes(timestamp, body), hashlib.sha256).hexdigest()


def verify(
    key: bytes,
    timestamp: int,
    body: bytes,
    signature: str,
    *,
    now: int,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: a fresh timestamp and a signature that matches, in constant time."""
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), signature)
