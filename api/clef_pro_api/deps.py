"""Request dependencies: settings, database session and the caller's identity.

Authorisation is by type: a route that takes ``CIKeyDep`` can only be called
with a CI API key, one that takes ``ReaderDep`` only by a reader of the read
API. A missing or unknown credential is ``401``; a known one of the wrong
kind is ``403``.

CI API keys come as ``Authorization: Bearer <key>`` (what the Clef CLI sends)
or as ``x-api-key: <key>`` (what Clef's documentation shows), on every CI
endpoint of both protocols. The CI write endpoints take the presented key
with :data:`PresentedCIKeyDep` (headers only, no I/O) and resolve it with
:func:`authenticate_ci_key` inside the one worker-thread hop that also
parses and stores the body.

Every credential check counts the caller's failures per client address and
kind of credential (:class:`~clef_pro_api.services.ratelimit.FailureLimiter`):
a client that failed too often gets ``429`` with ``Retry-After``, whatever it
presents, until its allowance refills.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from typing import Annotated, Final

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker
from starlette import status
from starlette.requests import HTTPConnection

from clef_pro.domain.config import INTEGRATION_ID_PATTERN
from clef_pro.domain.wire import refuse_controls
from clef_pro_api.kubernetes import TokenReviewer
from clef_pro_api.proxies import Network, client_address
from clef_pro_api.services.auth import (
    Administrator,
    CIKey,
    Principal,
    is_admin_token,
    looks_like_api_key,
    operator_identity,
    resolve_api_key,
)
from clef_pro_api.services.delivery import Sender
from clef_pro_api.services.ratelimit import CredentialKind, FailureLimiter, TooManyFailures
from clef_pro_api.settings import Settings

# Dependencies that do no I/O are ``async`` so FastAPI runs them inline
# instead of handing each to a worker thread (that hand-off costs more than
# they do, on every request).


def _optional_plain(value: str | None) -> str | None:
    return None if value is None else refuse_controls(value)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


#: Methods whose handlers only read: their sessions never take SQLite's write lock.
READING_METHODS = frozenset({"GET", "HEAD"})


def get_session(request: Request) -> Iterator[Session]:
    """A session per request. Writers commit explicitly before they answer,
    so a ``200`` always means committed; anything else is rolled back."""
    reads = request.method in READING_METHODS
    sessions: sessionmaker[Session] = (
        request.app.state.read_sessions if reads else request.app.state.sessions
    )
    with sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]

# Ids and names in paths and queries are checked before they reach a query:
# PostgreSQL refuses a NUL where SQLite would look it up, and both must answer
# the same ``422`` naming the parameter.
IntegrationIdPath = Annotated[str, Path(pattern=INTEGRATION_ID_PATTERN)]
#: An alert's or notification's id (a UUID this service made; anything else is not found).
RowIdPath = Annotated[str, Path(min_length=1, max_length=64), AfterValidator(refuse_controls)]
#: A channel name to filter by.
ChannelQuery = Annotated[str | None, Query(max_length=63), AfterValidator(_optional_plain)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="A Clef Pro API key or the admin token")
_api_key_header = APIKeyHeader(
    name="x-api-key", auto_error=False, description="A Clef Pro API key (CI endpoints)"
)


def unauthorized(
    reason: str = "missing, malformed, unknown or revoked credentials",
) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, reason, headers={"WWW-Authenticate": "Bearer"}
    )


async def presented_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> str:
    """The credential the caller presented, in either header (both: the same one)."""
    bearer = credentials.credentials if credentials is not None else None
    return _one_token(bearer, api_key)


def _one_token(bearer: str | None, api_key: str | None) -> str:
    if bearer and api_key and bearer != api_key:
        raise unauthorized("Authorization and x-api-key carry different credentials")
    token = bearer or api_key
    if not token:
        raise unauthorized()
    return token


def token_from_headers(request: Request) -> str:
    """:func:`presented_token` for routes that answer errors in a body of their
    own (OTLP): raises the same ``401`` for them to render."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    return _one_token(
        bearer.strip() if scheme.lower() == "bearer" else None,
        request.headers.get("x-api-key"),
    )


PresentedTokenDep = Annotated[str, Depends(presented_token)]

#: The OpenAPI security requirement :func:`presented_token` declares, for the
#: hot CI endpoints (reports, OTLP logs) that read their credential with
#: :func:`token_from_headers`: FastAPI solves dependencies again on every
#: request (about a tenth of a report's CPU), and a constant documents the same.
CI_KEY_SECURITY: Final[list[dict[str, list[str]]]] = [
    {_bearer.scheme_name: []},
    {_api_key_header.scheme_name: []},
]


class Attempts:
    """One client's authentication attempts of one kind: refused up front when
    it failed too often, counted when it fails."""

    def __init__(self, request: HTTPConnection, kind: CredentialKind) -> None:
        self._limiter: FailureLimiter = request.app.state.auth_failures
        trusted: tuple[Network, ...] = request.app.state.trusted_proxies
        self.address = client_address(request, trusted)
        self.kind: CredentialKind = kind

    def check(self) -> None:
        """Raises :class:`TooManyFailures` while this client is held back."""
        self._limiter.check(self.address, self.kind)

    def failed(self) -> None:
        self._limiter.failed(self.address, self.kind)


def too_many_failures(error: TooManyFailures) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        "too many failed authentication attempts from this address; retry later",
        headers={"Retry-After": error.retry_after_header},
    )


def _kind_of(token: str) -> CredentialKind:
    return "api-key" if looks_like_api_key(token) else "admin-token"


def authenticate_ci_key(
    session: Session | Connection, presented: str, settings: Settings, request: HTTPConnection
) -> CIKey:
    """Resolve a presented CI API key (does I/O: call it in the request's worker thread)."""
    attempts = Attempts(request, "api-key")
    try:
        attempts.check()
    except TooManyFailures as error:
        raise too_many_failures(error) from None
    if is_admin_token(presented, settings.admin_token_value):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint takes a CI API key")
    ci_key = resolve_api_key(session, presented) if looks_like_api_key(presented) else None
    if ci_key is None:
        attempts.failed()
        raise unauthorized()
    return ci_key


def get_principal(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    token: PresentedTokenDep,
) -> Principal:
    attempts = Attempts(request, _kind_of(token))
    try:
        attempts.check()
    except TooManyFailures as error:
        raise too_many_failures(error) from None
    if is_admin_token(token, settings.admin_token_value):
        return Administrator()
    if looks_like_api_key(token):
        ci_key = resolve_api_key(session, token)
        if ci_key is None:
            attempts.failed()
            raise unauthorized()
        return ci_key
    reviewer: TokenReviewer | None = request.app.state.token_reviewer
    identity = reviewer.review(token) if reviewer is not None else None
    if identity is None:
        attempts.failed()
        raise unauthorized()
    operator = operator_identity(settings.operator_service_account)
    if identity.username != operator:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this Kubernetes identity may not use this API"
        )
    return Administrator(name=identity.username)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_ci_key(principal: PrincipalDep) -> CIKey:
    if not isinstance(principal, CIKey):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint takes a CI API key")
    return principal


def _administrator(principal: Principal) -> Administrator:
    if not isinstance(principal, Administrator):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint takes the admin token")
    return principal


async def require_admin(principal: PrincipalDep) -> Administrator:
    return _administrator(principal)


async def require_reader(principal: PrincipalDep) -> Administrator:
    """Readers of the read API. CI keys never read alerts or other integrations."""
    return _administrator(principal)


CIKeyDep = Annotated[CIKey, Depends(require_ci_key)]
AdminDep = Annotated[Administrator, Depends(require_admin)]
ReaderDep = Annotated[Administrator, Depends(require_reader)]


async def get_outbox_waker(request: Request) -> Callable[[], None]:
    """Wakes this replica's outbox sender; call it after committing queued messages."""
    sender: Sender | None = getattr(request.app.state, "sender", None)
    return sender.wake if sender is not None else _nothing


def _nothing() -> None:
    return None


OutboxWakerDep = Annotated[Callable[[], None], Depends(get_outbox_waker)]


def queued_waker(request: HTTPConnection) -> Callable[[Collection[str]], None]:
    """Wakes this replica's outbox sender for messages of the given channel
    types, unless it delivers none of them (email without an SMTP server):
    a round that can claim nothing would only cost a transaction per report."""
    sender: Sender | None = getattr(request.app.state, "sender", None)
    if sender is None:
        return _nothing_queued
    delivered = sender.channel_types

    def wake(channel_types: Collection[str]) -> None:
        if not delivered.isdisjoint(channel_types):
            sender.wake()

    return wake


def _nothing_queued(_channel_types: Collection[str]) -> None:
    return None
