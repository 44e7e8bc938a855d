"""SMTP outages, refusals and no SMTP at all: mail is delayed or marked dead, never lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.contract import failing, sha, spec_report
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer

pytestmark = [pytest.mark.postgres, pytest.mark.smtp]

OAUTH = "oauth/production"
TEAM = [{"name": "team", "to": ["team@acme.com"], "minSeverity": "warning"}]


def submit_reports(service: ServiceClient, key: str, count: int) -> None:
    for index in range(1, count + 1):
        service.submit_ok(
            key,
            spec_report(
                sha(f"c{index}"), timestamp=index, policy_results=[failing("missing_keys", OAUTH)]
            ),
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_smtp_down_then_up_every_due_mail_arrives_once(notifying_service: ServiceFactory) -> None:
    smtp = SmtpServer()  # its port is chosen, nothing listens on it yet
    with notifying_service(
        smtp_host=smtp.host, smtp_port=smtp.port, notify_max_attempts=1000
    ) as service:
        (key,) = service.put_integration("acme", channels=TEAM)
        submit_reports(service, key, 3)

        def all_retrying_twice() -> bool:
            items = notifications(service, "acme")
            return all(item["status"] == "retrying" and item["attempts"] >= 2 for item in items)

        wait_until(all_retrying_twice)
        item = notifications(service, "acme")[0]
        assert item["lastError"].startswith("cannot reach the SMTP server")
        assert item["nextAttemptAt"] is not None
        status = service.read("/api/v1/notifications/status")
        assert status["backlog"]["retrying"] == 3
        assert status["backlog"]["oldestPendingSeconds"] > 0

        smtp.start()
        try:
            wait_settled(service)
            mails = smtp.wait_for(3)
            time.sleep(0.3)  # a duplicate would show up now
            mails = smtp.received
        finally:
            smtp.stop()
        assert len(mails) == 3
        assert len({mail.message_id for mail in mails}) == 3
        assert sorted(str(m.message["X-Clef-Pro-Commit"]) for m in mails) == sorted(
            sha(f"c{i}") for i in range(1, 4)
        )
        listed = notifications(service, "acme")
        assert {item["status"] for item in listed} == {"sent"}
        detail = service.read(f"/api/v1/notifications/{listed[0]['id']}")
        history = detail["attemptHistory"]
        assert len(history) == detail["attempts"] >= 3
        assert all(entry["error"] for entry in history[:-1])
        assert history[-1]["error"] is None
        assert detail["lastError"] is None


def test_a_message_failing_past_the_limit_is_dead_and_visible(
    notifying_service: ServiceFactory,
) -> None:
    smtp = SmtpServer()  # never started
    with notifying_service(
        smtp_host=smtp.host, smtp_port=smtp.port, notify_max_attempts=2
    ) as service:
        (key,) = service.put_integration("acme", channels=TEAM)
        submit_reports(service, key, 1)
        wait_settled(service)
        (item,) = notifications(service, "acme", status="dead")
        assert item["attempts"] == 2
        assert "gave up after 2 attempts" in item["lastError"]
        assert item["alerts"][0]["scope"] == OAUTH
        status = service.read("/api/v1/notifications/status")
        assert status["backlog"]["dead"] == 1
        metrics = service.http.get("/metrics").text
        assert 'clef_pro_notification_backlog{status="dead"} 1.0' in metrics
        assert 'clef_pro_notifications_dead_total{channel_type="email"}' in metrics
        # Dead stays dead: the server coming back does not resurrect it.
        smtp.start()
        try:
            time.sleep(0.5)
            assert smtp.received == []
        finally:
            smtp.stop()


def test_a_permanent_refusal_is_dead_at_once(notifying_service: ServiceFactory) -> None:
    smtp = SmtpServer(refused=frozenset({"gone@acme.com"})).start()
    try:
        with notifying_service(smtp_host=smtp.host, smtp_port=smtp.port) as service:
            channels = [*TEAM, {"name": "gone", "to": ["gone@acme.com"]}]
            (key,) = service.put_integration("acme", channels=channels)
            submit_reports(service, key, 1)
            wait_settled(service)
            by_channel = {i["channel"]["name"]: i for i in notifications(service, "acme")}
            assert by_channel["team"]["status"] == "sent"
            dead = by_channel["gone"]
            assert (dead["status"], dead["attempts"]) == ("dead", 1)
            assert "refused" in dead["lastError"]
            assert "550" in dead["lastError"]
        assert [mail.recipients for mail in smtp.received] == [("team@acme.com",)]
    finally:
        smtp.stop()


def test_without_smtp_messages_wait_in_the_outbox_and_the_service_says_so(
    service: ServiceClient,
) -> None:
    # ``service`` is the embedded default for notifications: no CLEF_PRO_SMTP_HOST.
    (key,) = service.put_integration("acme", channels=TEAM)
    submit_reports(service, key, 2)
    time.sleep(0.3)
    listed = notifications(service, "acme")
    assert [item["status"] for item in listed] == ["pending", "pending"]
    assert {item["delivery"] for item in listed} == {"disabled"}
    status = service.read("/api/v1/notifications/status")
    email = next(state for state in status["delivery"] if state["channelType"] == "email")
    assert email["delivery"] == "disabled"
    assert "CLEF_PRO_SMTP_HOST is not set" in email["reason"]
    assert status["backlog"]["pending"] == 2
    page = service.read("/api/v1/integrations/acme/notifications")
    assert any(state["delivery"] == "disabled" for state in page["delivery"])
    metrics = service.http.get("/metrics").text
    assert 'clef_pro_notification_backlog{status="pending"} 2.0' in metrics
    assert 'clef_pro_notifications_queued_total{channel_type="email"}' in metrics
    oldest = next(
        line
        for line in metrics.splitlines()
        if line.startswith("clef_pro_notification_oldest_pending_age_seconds ")
    )
    assert float(oldest.split()[1]) > 0


def test_a_message_whose_channel_was_removed_is_dead_not_misdelivered(
    notifying_service: ServiceFactory, smtp_server: SmtpServer
) -> None:
    smtp = {"smtp_host": smtp_server.host, "smtp_port": smtp_server.port}
    with notifying_service(**smtp, notify_sender=False) as service:
        (key,) = service.put_integration("acme", channels=TEAM)
        submit_reports(service, key, 1)
        service.put_integration("acme", channels=[])  # the operator removed the channel
    with notifying_service(**smtp) as service:
        wait_settled(service)
        (item,) = notifications(service, "acme")
    assert item["status"] == "dead"
    assert "no longer configured" in item["lastError"]
    assert smtp_server.received == []


def test_start_up_logs_that_email_is_not_sent(
    notifying_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), notifying_service():
        pass
    assert "notifications are queued but not sent: CLEF_PRO_SMTP_HOST is not set" in caplog.text
