"""One guarded HTTP client for every backend that makes requests to a user's URL.

Webhook, Slack, Teams, PagerDuty and Alertmanager channels all send to a URL
someone put in a Secret. Each new connection resolves the URL's host *once*,
refuses it if any address it resolves to is internal
(:mod:`clef_pro.domain.destinations`, with the ``CLEF_PRO_NOTIFY_ALLOWED_NETWORKS``
allow-list), and connects to that checked address itself. The request keeps
the name in its ``Host`` header and in TLS (SNI and certificate checks), so
receivers see nothing unusual, and DNS rebinding cannot swap the address
between the check and the connection: there is no second lookup.

This works at httpcore's network backend, below connection pooling: a pooled
connection stays pinned to the address it was checked with. Redirects are
never followed, and proxy variables from the environment are ignored (a proxy
would carry the request to a destination nobody checked).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Final

import httpcore
import httpx

from clef_pro.domain.destinations import IPAddress, IPNetwork, address_refusal, name_refusal

log = logging.getLogger(__name__)

#: What a refused delivery records (``lastError``): that it was refused and
#: why in general terms, never what the name resolved to. The read API must
#: not become a way to map the internal network.
REFUSED_MESSAGE: Final = (
    "delivery refused: the destination is not an allowed address "
    "(internal networks need CLEF_PRO_NOTIFY_ALLOWED_NETWORKS)"
)

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]


class DestinationRefused(Exception):
    """The URL's host is, or resolves to, an address that may not be contacted."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, through the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    seen: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        seen[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    return list(seen)


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address, connects to a checked one."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork],
        *,
        resolver: Resolver = resolve,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._allowed = tuple(allowed)
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to try, or :class:`DestinationRefused`.

        A name with even one internal address is refused whole: which of its
        addresses a connection would use is not ours to predict.
        """
        why = name_refusal(host, internal_allowed=bool(self._allowed))
        if why is not None:
            raise DestinationRefused(why)
        try:
            addresses = await self._resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise httpcore.ConnectError("the destination's name did not resolve") from error
        if not addresses:
            raise httpcore.ConnectError("the destination's name did not resolve")
        for address in addresses:
            why = address_refusal(address, self._allowed)
            if why is not None:
                raise DestinationRefused(why)
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await asyncio.wait_for(self.checked_addresses(host, port), timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout("resolving the destination timed out") from None
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last = error
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationRefused("a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over :class:`GuardedNetworkBackend`."""

    def __init__(
        self,
        allowed: Sequence[IPNetwork],
        *,
        resolver: Resolver = resolve,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=GuardedNetworkBackend(allowed, resolver=resolver),
        )


def guarded_client(
    allowed: Sequence[IPNetwork],
    *,
    timeout_seconds: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """The client every HTTP backend sends with. ``transport`` replaces the
    guard in unit tests of a backend's payloads only."""
    install_url_redaction()
    return httpx.AsyncClient(
        timeout=timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        transport=transport or GuardedTransport(allowed),
    )


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO; a webhook URL's path and
    query are credentials, so only its origin may reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) > 1
            and isinstance(args[1], httpx.URL)
            and str(record.msg).startswith("HTTP Request:")
        ):
            url = args[1]
            record.args = (args[0], f"{url.scheme}://{url.host}:{url.port or ''}/…", *args[2:])
        return True


_REDACTION = _OriginOnly()


def install_url_redaction() -> None:
    logging.getLogger("httpx").addFilter(_REDACTION)  # idempotent: one filter object
