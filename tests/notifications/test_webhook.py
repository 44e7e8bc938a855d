"""The webhook backend against a real local HTTP receiver that checks signatures."""

from __future__ import annotations

import logging

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.contract import failing, sha, spec_report
from tests.support.service import ServiceClient, admin_headers
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.postgres

KEY = "whsec-test-0123456789abcdef"
OAUTH = "oauth/production"


def webhook_channel(url: str, **extra: object) -> dict[str, object]:
    return {"name": "hook", "type": "webhook", "url": url, "signingKey": KEY, **extra}


def submit(service: ServiceClient, key: str, label: str, ts: int, severity: str) -> None:
    service.submit_ok(
        key,
        spec_report(
            sha(label), timestamp=ts, policy_results=[failing("missing_keys", OAUTH, severity)]
        ),
    )


def test_signed_json_arrives_and_verifies(
    notifying_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.DEBUG),
        WebhookReceiver(KEY).running() as receiver,
        notifying_service(webhook_allow_http=True) as service,
    ):
        channels = [webhook_channel(receiver.url, minSeverity="critical")]
        (key,) = service.put_integration("acme", channels=channels)
        submit(service, key, "c1", 1, "critical")
        submit(service, key, "c2", 2, "warning")  # below the channel's minimum: not sent
        wait_settled(service)
        (request,) = receiver.received
    assert request.signature_valid
    assert request.path == "/hooks/clef"
    body = request.json
    assert body["type"] == "clef-pro.alerts"
    assert body["subject"] == "[Clef Pro] Acme: 1 critical, 1 new"
    assert body["report"]["commitSha"] == sha("c1")
    (alert,) = body["alerts"]
    assert (alert["event"], alert["ruleId"], alert["scope"], alert["severity"]) == (
        "opened",
        "missing_keys",
        OAUTH,
        "critical",
    )
    assert alert["url"].startswith("https://clef.example/integrations/acme/alerts/")
    assert request.headers["X-Clef-Pro-Delivery"] == body["id"]
    assert request.headers["Content-Type"] == "application/json"
    # httpx logs each request at INFO: the webhook's path never reaches a log.
    assert "/hooks/clef" not in caplog.text
    assert KEY not in caplog.text


def test_server_errors_are_retried_with_the_same_delivery_id(
    notifying_service: ServiceFactory,
) -> None:
    with (
        WebhookReceiver(KEY, statuses=[500, 503]).running() as receiver,
        notifying_service(webhook_allow_http=True) as service,
    ):
        (key,) = service.put_integration("acme", channels=[webhook_channel(receiver.url)])
        submit(service, key, "c1", 1, "critical")
        wait_settled(service)
        requests = receiver.received
        (item,) = notifications(service, "acme")
    assert [request.answered for request in requests] == [500, 503, 200]
    assert len({request.headers["X-Clef-Pro-Delivery"] for request in requests}) == 1
    assert all(request.signature_valid for request in requests)
    assert (item["status"], item["attempts"], item["lastError"]) == ("sent", 3, None)


def test_a_client_error_is_permanent_and_the_url_never_shows(
    notifying_service: ServiceFactory,
) -> None:
    with (
        WebhookReceiver(KEY, statuses=[410]).running() as receiver,
        notifying_service(webhook_allow_http=True) as service,
    ):
        (key,) = service.put_integration("acme", channels=[webhook_channel(receiver.url)])
        submit(service, key, "c1", 1, "critical")
        wait_settled(service)
        (item,) = notifications(service, "acme")
        detail = service.http.get(f"/api/v1/notifications/{item['id']}", headers=admin_headers())
    assert (item["status"], item["attempts"]) == ("dead", 1)
    assert "HTTP 410" in item["lastError"]
    assert receiver.url not in detail.text
    assert KEY not in detail.text


def test_plain_http_is_refused_unless_allowed(notifying_service: ServiceFactory) -> None:
    with WebhookReceiver(KEY).running() as receiver, notifying_service() as service:
        (key,) = service.put_integration("acme", channels=[webhook_channel(receiver.url)])
        submit(service, key, "c1", 1, "critical")
        wait_settled(service)
        (item,) = notifications(service, "acme")
        assert receiver.received == []
    assert item["status"] == "dead"
    assert "not https://" in item["lastError"]


def test_the_signing_key_is_never_read_back(service: ServiceClient) -> None:
    (key,) = service.put_integration(
        "acme", channels=[webhook_channel("https://hooks.example/clef?token=abc")]
    )
    service.submit_ok(
        key, spec_report(sha("c1"), timestamp=1, policy_results=[failing("missing_keys", OAUTH)])
    )
    for path in (
        "/api/v1/integrations",
        "/api/v1/integrations/acme/notifications",
        "/api/v1/notifications/status",
    ):
        text = service.http.get(path, headers=admin_headers()).text
        assert KEY not in text
        assert "hooks.example" not in text
    checkpoint = service.http.get(
        "/api/v1/integrations/acme", headers={"Authorization": f"Bearer {key}"}
    ).text
    assert KEY not in checkpoint
    assert "hooks.example" not in checkpoint
