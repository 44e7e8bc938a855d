"""Channels never reach internal addresses, unless allow-listed: proved at real receivers.

The guard checks the address a name resolves to when a connection opens and
connects to that very address, keeping the name in ``Host`` (and in TLS).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

import httpx
import pytest

from clef_pro.domain.destinations import IPAddress, parse_networks
from clef_pro_api.notifications.outbound import (
    REFUSED_MESSAGE,
    DestinationRefused,
    GuardedTransport,
)
from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.contract import failing, sha, spec_report
from tests.support.service import admin_headers
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.postgres

KEY = "whsec-test-0123456789abcdef"
LOOPBACK = parse_networks(["127.0.0.0/8"])


def resolver_of(table: dict[str, list[str]], calls: list[str]) -> Callable[[str, int], object]:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        calls.append(host)
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


def post(transport: httpx.AsyncBaseTransport, url: str) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post(url, content=b"{}")

    return asyncio.run(go())


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected() -> None:
    calls: list[str] = []
    with WebhookReceiver(KEY).running() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        transport = GuardedTransport(
            LOOPBACK,
            resolver=resolver_of({"hooks.example": ["127.0.0.1"]}, calls),  # type: ignore[arg-type]
        )
        response = post(transport, f"http://hooks.example:{port}/hooks/clef")
        (request,) = receiver.received
    assert response.status_code == 200
    assert calls == ["hooks.example"]
    # The receiver was reached at the checked address, and saw the name.
    assert request.headers["Host"] == f"hooks.example:{port}"


def test_a_name_that_resolves_inside_is_refused_before_any_connection() -> None:
    calls: list[str] = []
    table = {"rebound.example": ["127.0.0.1"], "mixed.example": ["93.184.215.14", "127.0.0.1"]}
    with WebhookReceiver(KEY).running() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        transport = GuardedTransport((), resolver=resolver_of(table, calls))  # type: ignore[arg-type]
        for host in ("rebound.example", "mixed.example"):
            with pytest.raises(DestinationRefused):
                post(transport, f"http://{host}:{port}/hooks/clef")
        for literal in ("127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "0.0.0.0"):  # noqa: S104
            with pytest.raises(DestinationRefused):
                post(GuardedTransport(()), f"http://{literal}:{port}/hooks/clef")
        assert receiver.received == []
    assert calls == ["rebound.example", "mixed.example"]


def test_the_config_api_refuses_internal_literals_naming_the_field(
    notifying_service: ServiceFactory,
) -> None:
    with notifying_service(notify_allowed_networks=()) as service:
        for host in (
            "169.254.169.254",
            "[fd00:ec2::254]",
            "metadata.google.internal",
            "kubernetes.default.svc",
            "10.0.0.7",
            "127.1",
            "2130706433",
            "0x7f000001",
            "[::ffff:127.0.0.1]",
            "0.0.0.0",  # noqa: S104 - a destination, not a bind address
        ):
            channels = [
                {"name": "team", "to": ["t@acme.com"]},
                {"name": "hook", "type": "webhook", "url": f"https://{host}/h", "signingKey": KEY},
            ]
            answer = service.http.put(
                "/admin/v1/integrations/acme",
                json={"displayName": "Acme", "channels": channels},
                headers=admin_headers(),
            )
            assert answer.status_code == 422, host
            (error,) = answer.json()["detail"]
            assert error["field"] == "channels[1].url"
            assert "CLEF_PRO_NOTIFY_ALLOWED_NETWORKS" in error["msg"]
            assert host not in answer.text


def test_a_refused_destination_is_never_contacted_and_says_only_that(
    notifying_service: ServiceFactory,
) -> None:
    """Queued while loopback was allowed, then the allow-list was emptied:
    the message goes dead at the send-time check, unsent."""
    with WebhookReceiver(KEY).running() as receiver:
        channel = {"name": "hook", "type": "webhook", "url": receiver.url, "signingKey": KEY}
        with notifying_service(webhook_allow_http=True, notify_sender=False) as service:
            (key,) = service.put_integration("acme", channels=[channel])
            report = spec_report(sha("c1"), timestamp=1, policy_results=[failing("m", "a/b")])
            service.submit_ok(key, report)
        with notifying_service(webhook_allow_http=True, notify_allowed_networks=()) as service:
            wait_settled(service)
            (item,) = notifications(service, "acme")
        assert receiver.received == []
    assert (item["status"], item["attempts"]) == ("dead", 1)
    assert item["lastError"].startswith(REFUSED_MESSAGE)
    assert "127.0.0.1" not in item["lastError"]
    assert "loopback" not in item["lastError"]


def test_an_allow_listed_loopback_receiver_is_reached(notifying_service: ServiceFactory) -> None:
    """The counterpart: the same receiver, allow-listed, gets the message."""
    with WebhookReceiver(KEY).running() as receiver:
        channel = {"name": "hook", "type": "webhook", "url": receiver.url, "signingKey": KEY}
        with notifying_service(
            webhook_allow_http=True, notify_allowed_networks=("127.0.0.0/8",)
        ) as service:
            (key,) = service.put_integration("acme", channels=[channel])
            report = spec_report(sha("c1"), timestamp=1, policy_results=[failing("m", "a/b")])
            service.submit_ok(key, report)
            wait_settled(service)
            (item,) = notifications(service, "acme")
            (request,) = receiver.received
    assert item["status"] == "sent"
    assert request.signature_valid
