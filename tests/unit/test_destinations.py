"""Which destinations a notification may go to: every internal spelling refused."""

from __future__ import annotations

import ipaddress

import pytest

from clef_pro.domain.destinations import (
    address_refusal,
    host_refusal,
    literal_address,
    parse_networks,
    url_refusal,
)

LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "127.1",
    "127.0.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",
    "017700000001",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[64:ff9b::127.0.0.1]",
    "[2002:7f00:1::]",
    "127.0.0.1.",
]
INTERNAL_HOSTS = [
    *LOOPBACK_SPELLINGS,
    "0.0.0.0",  # noqa: S104 - a destination, not a bind address
    "0",
    "[::]",
    "10.0.0.1",
    "10.96.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "169.254.1.1",
    "[fe80::1]",
    "[fd00:ec2::254]",
    "[fc00::1]",
    "224.0.0.1",
    "[ff02::1]",
    "255.255.255.255",
    "198.18.0.1",
    "metadata.google.internal",
    "metadata.google.internal.",
    "METADATA.GOOGLE.INTERNAL",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "kubernetes",
    "localhost",
    "alertmanager.monitoring.svc",
    "alertmanager.monitoring.svc.cluster.local",
    "printer.local",
]
PUBLIC_HOSTS = [
    "hooks.slack.com",
    "events.pagerduty.com",
    "prod-01.westus.logic.azure.com",
    "1.1.1.1",
    "8.8.8.8",
    "[2606:4700:4700::1111]",
    "example.com",
]


@pytest.mark.parametrize("host", INTERNAL_HOSTS)
def test_every_internal_spelling_is_refused_by_default(host: str) -> None:
    assert host_refusal(host) is not None
    assert url_refusal(f"https://{host}:8443/hook?token=x") is not None


@pytest.mark.parametrize("host", PUBLIC_HOSTS)
def test_public_destinations_pass(host: str) -> None:
    assert host_refusal(host) is None
    assert url_refusal(f"https://{host}/services/T0/B0/x") is None


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS[:9])
def test_each_loopback_spelling_is_read_as_loopback(host: str) -> None:
    address = literal_address(host)
    assert address is not None
    assert address_refusal(address) == "a loopback address"


def test_an_allow_list_opens_exactly_its_ranges() -> None:
    allowed = parse_networks(["127.0.0.0/8", "10.96.0.0/12"])
    assert host_refusal("127.1", allowed) is None
    assert host_refusal("[::ffff:127.0.0.1]", allowed) is None
    assert host_refusal("10.96.4.2", allowed) is None
    assert host_refusal("10.0.0.1", allowed) == "a private address"
    assert host_refusal("[::1]", allowed) == "a loopback address"  # IPv6 needs ::1/128
    # With internal ranges allowed, in-cluster names are left to the resolved address.
    assert host_refusal("alertmanager.monitoring.svc", allowed) is None
    assert host_refusal("localhost", allowed) is None


def test_metadata_services_and_the_api_server_stay_refused_whatever_is_allowed() -> None:
    everything = parse_networks(["0.0.0.0/0", "::/0"])
    for host in (
        "169.254.169.254",
        "[fd00:ec2::254]",
        "168.63.129.16",
        "100.100.100.200",
        "[::ffff:169.254.169.254]",
        "metadata.google.internal",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
    ):
        assert host_refusal(host, everything) is not None, host
    assert host_refusal("10.1.2.3", everything) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[fe80::1%eth0]", "fe80::1"),
        ("1.2.3.256", None),
        ("4294967296", None),
        ("hooks.slack.com", None),
        ("08.0.0.1", None),
    ],
)
def test_literal_addresses_are_read_as_the_resolver_reads_them(
    text: str, expected: str | None
) -> None:
    address = literal_address(text)
    assert (str(address) if address is not None else None) == expected


def test_an_allow_list_typo_fails_loudly() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["10.0.0.0/33"])
    assert parse_networks([" 10.96.0.5 ", ""]) == (ipaddress.ip_network("10.96.0.5/32"),)
