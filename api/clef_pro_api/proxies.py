"""Who is on the other end of a request, when a reverse proxy may stand between.

Forwarding headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed
only from the peers in ``CLEF_PRO_PROXY_TRUSTED_ADDRESSES``: anyone else could
write them to pick the address a rate limit counts, or to claim https. Pure:
no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(networks: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def address_trusted(address: str | None, networks: Sequence[Network]) -> bool:
    """Whether the peer ``address`` is one of the trusted proxy ``networks``.

    IPv4-mapped IPv6 peers (``::ffff:10.0.0.1``, from dual-stack sockets)
    match their IPv4 networks. Anything that is not an IP address is untrusted."""
    if not address or not networks:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in networks)


def _peer(request: HTTPConnection) -> str:
    return request.client.host if request.client else ""


def client_address(request: HTTPConnection, trusted: Sequence[Network]) -> str:
    """The client's address: the peer's, or behind trusted proxies the nearest
    address in ``X-Forwarded-For`` that is not itself a trusted proxy (the
    ones before it could have been written by the client)."""
    peer = _peer(request)
    if not address_trusted(peer, trusted):
        return peer
    forwarded = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(forwarded):
        if not address_trusted(hop, trusted):
            return hop[:100]
    return peer


def is_https(request: HTTPConnection, trusted: Sequence[Network]) -> bool:
    """Whether the client reached us over https: directly, or through a
    trusted proxy that says so in ``X-Forwarded-Proto``."""
    if request.url.scheme in ("https", "wss"):
        return True
    if not address_trusted(_peer(request), trusted):
        return False
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https"
