"""Where notifications may be sent: the rule that keeps channels from reaching inside.

Whoever may create a NotificationChannel and its Secret chooses a URL, and the
service then makes signed requests to it from inside the cluster. Without a
rule that is a way to reach the cloud's metadata service, the Kubernetes API
server, or any internal port. So by default every destination address that
is not public is refused: loopback, private, link-local, unique-local,
carrier-grade NAT, multicast, unspecified, reserved and documentation ranges,
and IPv6 forms that embed an IPv4 address are judged by that address.

An explicit allow-list (CIDRs, a setting) opens ranges for the internal
receivers people do need, such as an in-cluster Alertmanager. Two kinds of
destination stay refused whatever it says: cloud metadata services and the
Kubernetes API server, where no receiver of notifications ever lives.

This module is pure: it judges addresses and names. The service checks the
address a name *resolves to* at send time and connects to that very address
(``clef_pro_api.notifications.outbound``); the config API uses
:func:`url_refusal` to refuse obviously internal literals early.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(*specs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(cidr), kind) for cidr, kind in specs)


#: Ranges refused unless allow-listed, with the word that says why.
INTERNAL_NETWORKS: Final = _networks(
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "reserved"),
    ("100::/64", "reserved"),
    ("2001::/32", "reserved"),  # Teredo: an obfuscated IPv4 address inside
    ("2001:db8::/32", "documentation"),
    ("fc00::/7", "unique-local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)

#: Cloud metadata services (AWS, ECS, GCP, Azure, Alibaba, Oracle). Never a
#: notification receiver, so refused even where an allow-list covers them.
METADATA_ADDRESSES: Final = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.169.123",
        "169.254.170.2",
        "169.254.170.23",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::23",
        "fd00:ec2::123",
        "fd20:ce::254",
    )
)

#: Names of the Kubernetes API server and of metadata services, refused by name
#: (the API server's ClusterIP is in the Service range an allow-list may open).
_REFUSED_NAMES: Final = {
    "kubernetes": "the Kubernetes API server",
    "kubernetes.default": "the Kubernetes API server",
    "kubernetes.default.svc": "the Kubernetes API server",
    "metadata": "a cloud metadata service",
    "metadata.google.internal": "a cloud metadata service",
    "metadata.goog": "a cloud metadata service",
    "instance-data": "a cloud metadata service",
    "instance-data.ec2.internal": "a cloud metadata service",
}
_CLUSTER_DOMAIN_SUFFIX: Final = ".cluster.local"

#: Names that only ever resolve inside a host or a cluster. Refused early by
#: the config API while nothing internal is allowed (they could not work).
_INTERNAL_SUFFIXES: Final = (
    ".localhost",
    ".local",
    ".internal",
    ".svc",
    ".cluster.local",
    ".home.arpa",
    ".localdomain",
)
_INTERNAL_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def parse_networks(specs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDRs (or single addresses) of an allow-list; raises ``ValueError`` on a typo."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


def _inet_aton_part(text: str) -> int:
    """One part of an IPv4 literal as the C library reads it: 0x hex, 0 octal, decimal."""
    if not text:
        raise ValueError("empty part")
    lowered = text.lower()
    if lowered.startswith("0x"):
        digits, base = lowered[2:] or "0", 16
    elif len(lowered) > 1 and lowered.startswith("0"):
        digits, base = lowered[1:], 8
    else:
        digits, base = lowered, 10
    if not digits.isascii() or not digits.isalnum():
        raise ValueError("not a number")
    return int(digits, base)


def _inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """Every IPv4 spelling ``getaddrinfo`` accepts: ``127.1``, ``2130706433``,
    ``0x7f000001``, ``0177.0.0.1``; ``None`` for anything else."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    try:
        numbers = [_inet_aton_part(part) for part in parts]
    except ValueError:
        return None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(leading):
        value |= number << (8 * (3 - position))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is a literal in any form a resolver accepts."""
    text = host.strip().rstrip(".") if not host.startswith("[") else host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
        except ValueError:
            return None
    return _inet_aton(text)


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 form carries (mapped, compatible, 6to4, NAT64), else itself."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 1):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return address


_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


def address_refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not be a destination (a few words), or ``None`` if it may."""
    address = embedded_ipv4(address)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address.version == network.version and address in network for network in allowed):
        return None
    for network, kind in INTERNAL_NETWORKS:
        if address.version == network.version and address in network:
            return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address"
    return None


def name_refusal(host: str, *, internal_allowed: bool) -> str | None:
    """Why the host name ``host`` may not be a destination, or ``None``.

    The API server's and metadata services' names are always refused. Other
    names that only resolve internally are refused while ``internal_allowed``
    is false: with nothing internal allowed they could never be delivered to.
    Everything else is judged by its resolved address at send time.
    """
    name = host.strip().rstrip(".").lower()
    if name in _REFUSED_NAMES:
        return _REFUSED_NAMES[name]
    if name.endswith(_CLUSTER_DOMAIN_SUFFIX):
        short = name.removesuffix(_CLUSTER_DOMAIN_SUFFIX)
        if short in _REFUSED_NAMES:
            return _REFUSED_NAMES[short]
    if not internal_allowed and (name in _INTERNAL_NAMES or name.endswith(_INTERNAL_SUFFIXES)):
        return "an internal name"
    return None


def host_refusal(host: str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``host`` (a literal address in any spelling, or a name) is refused, or ``None``."""
    address = literal_address(host)
    if address is not None:
        return address_refusal(address, allowed)
    return name_refusal(host, internal_allowed=bool(allowed))


def url_refusal(url: str, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why the URL's host is refused before anything is resolved, or ``None``."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return "an unreadable host"
    if not host:
        return "no host"
    return host_refusal(host, allowed)
