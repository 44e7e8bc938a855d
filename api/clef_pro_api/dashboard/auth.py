"""Who is looking at the dashboard, and what they may see and do.

Three sign-in modes (``CLEF_PRO_DASHBOARD_AUTH``):

- ``admin-token``: the admin token is pasted once; the session is tied to it,
  so rotating the token signs everyone out. The user is ``admin``.
- ``proxy``: an authentication proxy (oauth2-proxy style) in front of the
  service names the user and groups in headers on every request. Those
  headers are honoured only from ``CLEF_PRO_PROXY_TRUSTED_ADDRESSES``; from any
  other peer they are ignored, as if absent. No cookie of ours is involved.
- ``kubernetes``: a Kubernetes bearer token is pasted once and reviewed with a
  TokenReview; the session keeps the user and groups (never the token). Each
  integration is then authorised with a SubjectAccessReview on the
  Integration resource it came from: ``get`` to view, ``update`` to
  acknowledge. Integrations without a known source are invisible in this mode.

Sessions of the two cookie modes (``admin-token``, ``kubernetes``) are also
kept server-side, one row each: the signed cookie says who opened it, the row
that it is still open. Signing out deletes the row, so a copied cookie stops
working at once in every replica.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from fastapi import Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from clef_pro.domain.config import IntegrationSource
from clef_pro_api.dashboard import security
from clef_pro_api.kubernetes import AccessReviewer, KubernetesIdentity, ResourceRef, TokenReviewer
from clef_pro_api.proxies import address_trusted, is_https, parse_networks
from clef_pro_api.services.auth import is_admin_token
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models

log = logging.getLogger(__name__)

#: The Integration resource, as RBAC names it.
INTEGRATIONS_GROUP: Final = "pro.clef.sh"
INTEGRATIONS_RESOURCE: Final = "integrations"
#: Longest user name kept (it is recorded as who acknowledged an alert).
MAX_USERNAME: Final = 200

Verb = Literal["get", "update"]


@dataclass(frozen=True, slots=True)
class Viewer:
    """A signed-in person."""

    username: str
    groups: tuple[str, ...]
    mode: str
    #: What this viewer's CSRF token is bound to.
    csrf_binding: str


@dataclass(frozen=True, slots=True)
class SignInRefused:
    message: str


class SignInRequired(Exception):
    """Raised by a page whose visitor is not signed in; answered with the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def session_secret(settings: Settings) -> str:
    """The key material of session cookies: configured, else derived from the
    admin token, else random for this process (with a warning)."""
    configured = settings.session_secret_value
    if configured:
        return configured
    admin = settings.admin_token_value
    if admin:
        return f"admin-token:{admin}"
    log.warning(
        "no CLEF_PRO_SESSION_SECRET and no admin token: dashboard sessions are signed with "
        "a random key of this process and end when it stops (set CLEF_PRO_SESSION_SECRET_FILE)"
    )
    return security.random_secret()


def _session_id(nonce: str) -> str:
    # A digest, so the table alone never holds what a cookie carries.
    return hashlib.sha256(nonce.encode()).hexdigest()


class Gate:
    """The dashboard's authentication and authorisation, built once per app."""

    def __init__(
        self,
        settings: Settings,
        *,
        sessions: sessionmaker[Session],
        token_reviewer: TokenReviewer | None = None,
        access_reviewer: AccessReviewer | None = None,
    ) -> None:
        self.settings = settings
        self.mode = settings.dashboard_auth
        secret = session_secret(settings)
        self._session_key = security.derive_key(secret, "session")
        self._csrf_key = security.derive_key(secret, "csrf")
        self._networks = parse_networks(settings.proxy_trusted_addresses)
        self._sessions = sessions
        self._public_https = settings.public_url.lower().startswith("https://")
        self._token_reviewer: TokenReviewer | None = None
        self._access_reviewer: AccessReviewer | None = None
        if self.mode == "kubernetes":
            self._token_reviewer = token_reviewer or TokenReviewer(
                audience=None,
                kubeconfig=settings.kubeconfig,
                cache_seconds=settings.token_review_cache_seconds,
            )
            self._access_reviewer = access_reviewer or AccessReviewer(
                kubeconfig=settings.kubeconfig,
                cache_seconds=settings.access_review_cache_seconds,
            )

    # ------------------------------------------------------------ identity

    def viewer(self, request: Request) -> Viewer | None:
        if self.mode == "proxy":
            return self._proxy_viewer(request)
        session = security.read_session(
            request.cookies.get(security.SESSION_COOKIE), self._session_key, now=time.time()
        )
        if session is None or session.mode != self.mode:
            return None
        if self.mode == "admin-token" and not self._admin_credential_holds(session.credential):
            # The admin token was rotated: this session ends here for good.
            self._forget(session)
            return None
        if not self._still_open(session):
            return None
        return Viewer(session.username, session.groups, session.mode, session.nonce)

    def secure_cookies(self, request: Request) -> bool:
        """Whether the session cookie is ``Secure``: whenever the public URL is
        https, or this request came over https (directly or through a trusted
        proxy's ``X-Forwarded-Proto``)."""
        return self._public_https or is_https(request, self._networks)

    # ------------------------------------------------------------ server-side sessions

    def open(self, session: security.SessionData) -> None:
        """Record a new session; expired ones are cleared out on the way."""
        now = datetime.now(UTC)
        with self._sessions() as db:
            db.execute(
                delete(models.DashboardSession).where(models.DashboardSession.expires_at <= now)
            )
            db.add(
                models.DashboardSession(
                    id=_session_id(session.nonce),
                    username=session.username,
                    mode=session.mode,
                    created_at=now,
                    expires_at=datetime.fromtimestamp(session.expires_at, UTC),
                )
            )
            db.commit()

    def close(self, request: Request) -> None:
        """Sign out: the session of this request's cookie ends on the server."""
        session = security.read_session(
            request.cookies.get(security.SESSION_COOKIE), self._session_key, now=time.time()
        )
        if session is not None:
            self._forget(session)

    def _forget(self, session: security.SessionData) -> None:
        with self._sessions() as db:
            db.execute(
                delete(models.DashboardSession).where(
                    models.DashboardSession.id == _session_id(session.nonce)
                )
            )
            db.commit()

    def _still_open(self, session: security.SessionData) -> bool:
        with self._sessions() as db:
            expires_at = db.scalar(
                select(models.DashboardSession.expires_at).where(
                    models.DashboardSession.id == _session_id(session.nonce)
                )
            )
        return expires_at is not None and expires_at > datetime.now(UTC)

    def _proxy_viewer(self, request: Request) -> Viewer | None:
        peer = request.client.host if request.client else None
        if not address_trusted(peer, self._networks):
            return None
        username = (request.headers.get(self.settings.proxy_user_header) or "").strip()
        if not username or len(username) > MAX_USERNAME:
            return None
        groups = security.parse_groups(request.headers.get(self.settings.proxy_groups_header))
        return Viewer(username, groups, "proxy", f"proxy|{username}")

    def _admin_credential_holds(self, fingerprint: str) -> bool:
        token = self.settings.admin_token_value
        if token is None:
            return False
        return fingerprint == security.credential_fingerprint(self._session_key, token)

    # ------------------------------------------------------------ signing in

    def sign_in(self, credential: str) -> security.SessionData | SignInRefused:
        """Check what was pasted on the sign-in form; a session on success."""
        credential = credential.strip()
        if not credential:
            return SignInRefused("Paste a token to sign in.")
        now = time.time()
        lifetime = self.settings.session_lifetime_seconds
        if self.mode == "admin-token":
            if not is_admin_token(credential, self.settings.admin_token_value):
                return SignInRefused("That is not this service's admin token.")
            return security.SessionData.new(
                username="admin",
                groups=(),
                mode=self.mode,
                now=now,
                lifetime=lifetime,
                credential=security.credential_fingerprint(self._session_key, credential),
            )
        if self.mode == "kubernetes":
            identity = self._review(credential)
            if identity is None or not identity.username:
                return SignInRefused(
                    "The Kubernetes API server did not accept that token "
                    "(expired, revoked, or not a token of this cluster)."
                )
            if len(identity.username) > MAX_USERNAME:
                return SignInRefused("That user name is too long to record.")
            session = security.SessionData.new(
                username=identity.username,
                groups=identity.groups,
                mode=self.mode,
                now=now,
                lifetime=lifetime,
            )
            if len(self.cookie_value(session)) > security.MAX_COOKIE_BYTES:
                return SignInRefused("That identity has too many groups to keep in a session.")
            return session
        return SignInRefused("This dashboard signs you in through your authentication proxy.")

    def _review(self, token: str) -> KubernetesIdentity | None:
        assert self._token_reviewer is not None
        try:
            return self._token_reviewer.review(token)
        except Exception as error:  # an unreachable API server refuses, it never admits
            log.warning("TokenReview failed: %s", type(error).__name__)
            return None

    def cookie_value(self, session: security.SessionData) -> str:
        return security.sign_session(session, self._session_key)

    # ------------------------------------------------------------ CSRF

    def csrf_token(self, viewer: Viewer) -> str:
        return security.csrf_token(self._csrf_key, viewer.csrf_binding)

    def csrf_valid(self, viewer: Viewer, presented: str | None) -> bool:
        return security.csrf_valid(self._csrf_key, viewer.csrf_binding, presented)

    def same_origin(self, request: Request) -> bool:
        return security.origin_allowed(
            request.headers.get("origin"),
            host=request.headers.get("host"),
            public_url=self.settings.public_url,
        )

    # ------------------------------------------------------------ authorisation

    def may(self, viewer: Viewer, verb: Verb, source: IntegrationSource | None) -> bool:
        """Whether ``viewer`` may ``get`` (view) or ``update`` (acknowledge) an
        integration whose config came from ``source``."""
        if self.mode != "kubernetes":
            return True
        if source is None or self._access_reviewer is None:
            return False
        return self._access_reviewer.allowed(
            KubernetesIdentity(viewer.username, viewer.groups),
            verb,
            ResourceRef(INTEGRATIONS_GROUP, INTEGRATIONS_RESOURCE, source.namespace, source.name),
        )
