"""The dashboard's security primitives: signed sessions, CSRF tokens, safe
redirects and same-origin checks. Pure functions. (Trusted proxy addresses
are :mod:`clef_pro_api.proxies`, shared with the API's rate limits.)

A session is a cookie the service signs with HMAC-SHA256 and reads back on
every request; it holds the identity only (user, groups, sign-in mode, expiry
and a random nonce), never a credential: a Kubernetes token is reviewed once at
sign-in and dropped. CSRF tokens are derived from the session's nonce with the
same key, so they need no storage and change with every sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

#: Name of the session cookie.
SESSION_COOKIE: Final = "clef_pro_session"
#: Browsers drop cookies past 4096 bytes; a session that would not fit is refused.
MAX_COOKIE_BYTES: Final = 3800
_VERSION: Final = "v1"


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose (sessions, CSRF) from the configured secret."""
    return hmac.new(secret.encode(), f"clef-pro dashboard {purpose}".encode(), "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class SessionData:
    """Who signed in, how, and until when (Unix seconds)."""

    username: str
    groups: tuple[str, ...]
    mode: str
    expires_at: int
    #: Random per sign-in; the CSRF token is bound to it.
    nonce: str
    #: What the sign-in proved, when it can be re-checked cheaply (a
    #: fingerprint of the admin token: rotating the token signs everyone out).
    credential: str = ""

    @classmethod
    def new(
        cls,
        *,
        username: str,
        groups: Sequence[str],
        mode: str,
        now: float,
        lifetime: int,
        credential: str = "",
    ) -> SessionData:
        return cls(
            username=username,
            groups=tuple(groups),
            mode=mode,
            expires_at=int(now) + lifetime,
            nonce=secrets.token_urlsafe(16),
            credential=credential,
        )


def sign_session(data: SessionData, key: bytes) -> str:
    payload = json.dumps(
        {
            "u": data.username,
            "g": list(data.groups),
            "m": data.mode,
            "e": data.expires_at,
            "n": data.nonce,
            "c": data.credential,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    body = f"{_VERSION}.{_b64(payload)}"
    signature = hmac.new(key, body.encode(), "sha256").digest()
    return f"{body}.{_b64(signature)}"


def read_session(value: str | None, key: bytes, *, now: float) -> SessionData | None:
    """The session a cookie holds, or ``None`` if it is absent, forged,
    malformed or expired. Never raises on client input."""
    if not value or len(value) > MAX_COOKIE_BYTES:
        return None
    body, _, signature = value.rpartition(".")
    version, _, payload = body.partition(".")
    if version != _VERSION or not payload or not signature:
        return None
    expected = hmac.new(key, body.encode(), "sha256").digest()
    try:
        presented = _unb64(signature)
        fields = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(expected, presented):
        return None
    try:
        data = SessionData(
            username=str(fields["u"]),
            groups=tuple(str(group) for group in fields["g"]),
            mode=str(fields["m"]),
            expires_at=int(fields["e"]),
            nonce=str(fields["n"]),
            credential=str(fields.get("c", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if data.expires_at <= now or not data.username:
        return None
    return data


def credential_fingerprint(key: bytes, credential: str) -> str:
    """A short keyed digest of a credential: lets a session be tied to the
    admin token it was opened with, without putting the token in the cookie."""
    return _b64(hmac.new(key, f"credential|{credential}".encode(), "sha256").digest()[:12])


def csrf_token(key: bytes, binding: str) -> str:
    """The CSRF token of one session (``binding``: its nonce, or the user in proxy mode)."""
    return _b64(hmac.new(key, f"csrf|{binding}".encode(), "sha256").digest())


def csrf_valid(key: bytes, binding: str, presented: str | None) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(csrf_token(key, binding).encode(), presented.encode())


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site.

    ``//evil.example`` and ``/\\evil.example`` are protocol-relative URLs to
    browsers, so only a single leading slash followed by a path character is
    accepted."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\t\\") or any(ord(ch) < 32 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port or default_port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return parts.scheme.lower(), f"{host}:{port}"


def origin_allowed(origin: str | None, *, host: str | None, public_url: str) -> bool:
    """Whether a state-changing request may come from ``origin`` (its header).

    A request without ``Origin`` is allowed (old clients; the CSRF token still
    guards what needs a session). One with an ``Origin`` must name this
    service: its public URL, or the host the request was addressed to."""
    if origin is None:
        return True
    theirs = _origin_of(origin)
    if theirs is None:  # "null" (sandboxed frames, privacy redirects) or garbage
        return False
    if theirs == _origin_of(public_url):
        return True
    if host:
        return theirs == _origin_of(f"{theirs[0]}://{host}")
    return False


def parse_groups(value: str | None) -> tuple[str, ...]:
    """oauth2-proxy's groups header: comma-separated, blanks dropped."""
    if not value:
        return ()
    return tuple(group.strip() for group in value.split(",") if group.strip())


def random_secret() -> str:
    return secrets.token_urlsafe(32)
