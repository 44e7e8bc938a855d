"""Real ``clef-pro serve`` processes on one Postgres: several senders, and crashes."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from tests.notifications.conftest import FAST_ENV
from tests.support.contract import failing, passing, spec_report
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.smtp, pytest.mark.server]

CHANNELS = [
    {"name": "oncall", "to": ["oncall@acme.com"], "minSeverity": "critical"},
    {"name": "team", "to": ["team@acme.com"], "minSeverity": "info"},
]


def report(integration: int, index: int) -> dict[str, Any]:
    """Report ``index`` of an integration: a critical failure on every one, and a
    warning that comes and goes, so every report mails each channel once."""
    flaky = (failing if index % 2 else passing)("rotation", "api-keys/production", "warning")
    return spec_report(
        f"{integration:04x}{index:036x}",
        timestamp=index,
        policy_results=[failing("missing_keys", "oauth/production"), flaky],
    )


def sent_total(server: ServerProcess) -> int:
    """Mails this replica delivered, from its own Prometheus counter."""
    with server.client() as http:
        text = http.get("/metrics").text
    match = re.search(
        r'^clef_pro_notifications_sent_total\{channel_type="email"\} (\S+)$', text, re.M
    )
    return int(float(match.group(1))) if match else 0


def read_all(client: ServiceClient, integration_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.read(
        f"/api/v1/integrations/{integration_id}/notifications", limit=500
    )["items"]
    return items


def wait_for_status(
    client: ServiceClient, integration_id: str, status: str, timeout: float = 15.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = read_all(client, integration_id)
        if items and items[0]["status"] == status:
            return items[0]
        time.sleep(0.05)
    raise AssertionError(f"no notification reached {status!r}: {read_all(client, integration_id)}")


def test_three_replicas_many_concurrent_reports_every_mail_once(
    start_service: Callable[..., ServerProcess], smtp_server: SmtpServer
) -> None:
    servers = [start_service(**FAST_ENV, **smtp_server.env()) for _ in range(3)]
    clients = [ServiceClient(server.client()) for server in servers]
    integrations, reports_each = 8, 6
    keys = {
        index: clients[0].put_integration(f"team-{index}", channels=CHANNELS)[0]
        for index in range(integrations)
    }

    def submit_in_order(integration: int) -> list[int]:
        # One CI pipeline per integration, its reports in commit order, each to
        # whichever replica the load balancer picked.
        return [
            clients[(integration + index) % 3]
            .submit(keys[integration], report(integration, index))
            .status_code
            for index in range(1, reports_each + 1)
        ]

    with ThreadPoolExecutor(max_workers=integrations) as pool:
        statuses = [
            code for codes in pool.map(submit_in_order, range(integrations)) for code in codes
        ]
    assert statuses == [200] * integrations * reports_each

    expected = integrations * reports_each * len(CHANNELS)
    smtp_server.wait_for(expected, timeout=60)
    time.sleep(1.0)  # several poll rounds of every replica: a duplicate would land now
    mails = smtp_server.received
    assert len(mails) == expected
    assert len({mail.message_id for mail in mails}) == expected

    listed = [
        item for index in range(integrations) for item in read_all(clients[0], f"team-{index}")
    ]
    assert len(listed) == expected
    assert {item["status"] for item in listed} == {"sent"}
    assert {item["attempts"] for item in listed} == {1}
    assert {item["messageId"] for item in listed} == {mail.message_id for mail in mails}
    # The replicas shared the work (claims are spread, never shared twice).
    sent_by = [sent_total(server) for server in servers]
    assert sum(sent_by) == expected
    assert sum(1 for count in sent_by if count > 0) >= 2, sent_by
    for server in servers:
        assert "Traceback" not in server.log.read_text()
    for client in clients:
        client.http.close()


def test_killed_after_commit_before_sending_the_mail_goes_out_after_restart(
    start_service: Callable[..., ServerProcess],
) -> None:
    smtp = SmtpServer()  # nothing listens on its port yet
    first = start_service(**FAST_ENV, **smtp.env(), CLEF_PRO_NOTIFY_MAX_ATTEMPTS="1000")
    client = ServiceClient(first.client())
    (key,) = client.put_integration("acme", channels=CHANNELS[1:])
    client.submit_ok(key, report(1, 1))
    wait_for_status(client, "acme", "retrying")
    client.http.close()
    first.stop(kill=True)  # SIGKILL: no shutdown hook runs

    smtp.start()
    try:
        second = start_service(**FAST_ENV, **smtp.env())
        (mail,) = smtp.wait_for(1)
        time.sleep(0.5)
        assert len(smtp.received) == 1
        with second.client() as http:
            sent = wait_for_status(ServiceClient(http), "acme", "sent")
        assert sent["messageId"] == mail.message_id
    finally:
        smtp.stop()


@contextmanager
def silent_smtp_port() -> Iterator[int]:
    """A port that accepts connections and never says a word: a send hangs there."""
    listener = socket.create_server(("127.0.0.1", 0))
    port: int = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                held.append(connection)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


def test_killed_mid_send_the_claim_expires_and_the_mail_goes_out_once(
    start_service: Callable[..., ServerProcess], smtp_server: SmtpServer
) -> None:
    # A short lease (3 s), just longer than the SMTP timeout (2 s) as required.
    lease = {
        "CLEF_PRO_NOTIFY_LEASE_SECONDS": "3",
        "CLEF_PRO_SMTP_TIMEOUT_SECONDS": "2",
        "CLEF_PRO_WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    with silent_smtp_port() as port:
        first = start_service(
            **{**FAST_ENV, **lease}, CLEF_PRO_SMTP_HOST="127.0.0.1", CLEF_PRO_SMTP_PORT=str(port)
        )
        client = ServiceClient(first.client())
        (key,) = client.put_integration("acme", channels=CHANNELS[1:])
        client.submit_ok(key, report(1, 1))
        claimed = wait_for_status(client, "acme", "sending")
        assert claimed["attempts"] == 1
        client.http.close()
        first.stop(kill=True)  # killed holding the claim, waiting for the server's greeting

    second = start_service(**{**FAST_ENV, **lease}, **smtp_server.env())
    (mail,) = smtp_server.wait_for(1)
    with second.client() as http:
        service = ServiceClient(http)
        sent = wait_for_status(service, "acme", "sent")
        detail = service.read(f"/api/v1/notifications/{sent['id']}")
    time.sleep(0.5)
    assert len(smtp_server.received) == 1
    assert sent["messageId"] == mail.message_id
    first_attempt, second_attempt = detail["attemptHistory"]
    assert "claim expired" in first_attempt["error"]
    assert second_attempt["error"] is None
    # Nobody touched the claim before its lease ended.
    claimed_at = datetime.fromisoformat(first_attempt["attemptedAt"])
    retaken_at = datetime.fromisoformat(second_attempt["attemptedAt"])
    assert (retaken_at - claimed_at).total_seconds() >= 3
