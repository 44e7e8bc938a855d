"""Refuse secret-shaped data at the door.

Clef Pro promises that it never holds file paths, key names, recipients, key
identifiers or environment variables. The CLI composes its free text locally,
so a bug or a hostile client could still put such data in a message. Every
free-text field of a report passes through :func:`find_secret_shape` before it
is accepted; a hit refuses the whole report.

The finding names a *kind* of data, never the matched text: an error that
echoed the value would leak it into logs and HTTP responses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class SecretShape:
    kind: str
    pattern: re.Pattern[str]


_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*://\S*", re.IGNORECASE)

SECRET_SHAPES: Final[tuple[SecretShape, ...]] = (
    # age recipients (bech32, incl. plugin recipients) and age identities.
    SecretShape("an age recipient", re.compile(r"\bage1[0-9a-z]{20,}", re.IGNORECASE)),
    SecretShape("an age identity", re.compile(r"AGE-(?:PLUGIN-[A-Z0-9]+-)?SECRET-KEY-1", re.I)),
    # OpenPGP v4 fingerprints: 40 hex digits, bare or in groups of four.
    SecretShape(
        "a PGP fingerprint",
        re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4} ?){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])"),
    ),
    SecretShape("a PGP key id", re.compile(r"\b0x[0-9A-Fa-f]{16}\b")),
    SecretShape("a PGP or SSH key block", re.compile(r"-----BEGIN [A-Z ]*(?:KEY|MESSAGE)")),
    SecretShape("an SSH public key", re.compile(r"\b(?:ssh-(?:rsa|ed25519)|ecdsa-sha2-\S+) AAAA")),
    SecretShape("an AWS KMS key ARN", re.compile(r"\barn:aws[a-z-]*:kms:", re.IGNORECASE)),
    SecretShape(
        "a GCP KMS key name",
        re.compile(r"\bprojects/[^/\s]+/locations/[^/\s]+/keyRings/[^/\s]+", re.IGNORECASE),
    ),
    SecretShape("a GCP KMS key name", re.compile(r"/cryptoKeys/[^/\s]+", re.IGNORECASE)),
    SecretShape(
        "an Azure Key Vault key URL",
        re.compile(
            r"\b[\w-]+\.vault\.(?:azure\.net|azure\.cn|usgovcloudapi\.net|microsoftazure\.de)\b",
            re.IGNORECASE,
        ),
    ),
    SecretShape("a HashiCorp Vault transit key path", re.compile(r"\btransit/keys/\S+")),
    # Encrypted file names, wherever they stand.
    SecretShape(
        "an encrypted file path",
        re.compile(r"[\w@-]\.enc\.[A-Za-z0-9]+\b|\.sops\b"),
    ),
    # Absolute paths: POSIX with at least two components, Windows drives, home-relative.
    SecretShape(
        "an absolute file path",
        re.compile(r"(?:^|[\s\"'`(\[=,;])(?:~?/[\w.@+-]+){2,}"),
    ),
    SecretShape("an absolute file path", re.compile(r"\b[A-Za-z]:\\[^\s]")),
    SecretShape("an absolute file path", re.compile(r"(?:^|\s)~/\S")),
    # NAME=value, the shape of an environment variable assignment.
    SecretShape("an environment variable", re.compile(r"\b[A-Z][A-Z0-9_]{2,}=\S")),
)


def find_secret_shape(text: str) -> str | None:
    """Return the kind of secret-shaped data in ``text``, or ``None`` if it is clean.

    URLs are legitimate in free text (a pipeline link, a runbook), so the path
    part of a URL is not taken for a file path; key-identifier shapes are still
    looked for inside URLs.
    """
    without_urls = _URL.sub(" ", text)
    for shape in SECRET_SHAPES:
        haystack = without_urls if shape.kind == "an absolute file path" else text
        if shape.pattern.search(haystack):
            return shape.kind
    return None
