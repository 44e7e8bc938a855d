"""API key format, shared by the operator that mints keys and the service that checks them.

A key is ``clefpro_`` + 32 random base62 characters + a 6-character base62
CRC32 of them. The fixed prefix lets secret scanners find a leaked key; the
checksum lets them (and the service) tell a real key from a look-alike without
a database lookup. The service stores only the SHA-256 of a key: keys carry
190 bits of randomness, so a salt or a slow hash would add nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
import zlib
from typing import Final

PREFIX: Final = "clefpro_"
_ALPHABET: Final = string.digits + string.ascii_letters
_RANDOM_LENGTH: Final = 32
_CHECKSUM_LENGTH: Final = 6
_SHAPE: Final = re.compile(
    rf"^{PREFIX}[0-9A-Za-z]{{{_RANDOM_LENGTH}}}[0-9A-Za-z]{{{_CHECKSUM_LENGTH}}}$"
)
SHA256_HEX_PATTERN: Final = r"^[0-9a-f]{64}$"


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(_ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode()), _CHECKSUM_LENGTH)


def generate_api_key() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return f"{PREFIX}{body}{_checksum(body)}"


def is_well_formed(key: str) -> bool:
    """Prefix, length, alphabet and checksum are right (says nothing of validity)."""
    if not _SHAPE.match(key):
        return False
    body = key[len(PREFIX) : len(PREFIX) + _RANDOM_LENGTH]
    return hmac.compare_digest(key[-_CHECKSUM_LENGTH:], _checksum(body))


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
