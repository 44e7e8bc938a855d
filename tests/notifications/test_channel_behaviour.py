"""Retries, rate limits, permanent refusals, repeat intervals, acknowledgement
expiry, silent integrations and Alertmanager refreshes, over the real outbox."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.alertmanager import Alertmanager
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.receivers import (
    Answer,
    Receiver,
    pagerduty_receiver,
    slack_receiver,
    teams_receiver,
)
from tests.support.service import ServiceClient
from tests.support.waiting import wait_for
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.postgres

OAUTH = "oauth/production"
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"
SIGNING_KEY = "whsec-test-0123456789abcdef"

RECEIVERS: dict[str, Callable[[list[Answer]], Receiver]] = {
    "slack": slack_receiver,
    "teams": teams_receiver,
    "pagerduty": pagerduty_receiver,
}


def channel(kind: str, url: str, **extra: Any) -> dict[str, Any]:
    if kind == "pagerduty":
        return {"name": kind, "type": kind, "routingKey": ROUTING_KEY, "url": url, **extra}
    return {"name": kind, "type": kind, "url": url, **extra}


def submit(service: ServiceClient, key: str, label: str, ts: int, results: list[Any]) -> None:
    service.submit_ok(key, spec_report(sha(label), timestamp=ts, policy_results=results))


@pytest.mark.parametrize("kind", sorted(RECEIVERS))
def test_server_errors_and_rate_limits_are_retried_honouring_retry_after(
    notifying_service: ServiceFactory, kind: str
) -> None:
    script = [Answer(503), Answer(429, (("Retry-After", "1"),))]
    with (
        RECEIVERS[kind](script).running() as receiver,
        notifying_service(webhook_allow_http=True) as service,
    ):
        (key,) = service.put_integration("acme", channels=[channel(kind, receiver.url)])
        submit(service, key, "c1", 1, [failing("missing_keys", OAUTH)])
        wait_settled(service)
        requests = receiver.received
        (item,) = notifications(service, "acme")
    assert [r.answered for r in requests] == [503, 429, 202 if kind != "slack" else 200]
    assert all(r.problems == () for r in requests)
    # The retry policy here waits at most 0.4 s; Slack asked for a second.
    assert requests[2].at - requests[1].at >= 1.0
    assert (item["status"], item["attempts"], item["lastError"]) == ("sent", 3, None)


@pytest.mark.parametrize("kind", sorted(RECEIVERS))
def test_a_client_error_is_permanent(notifying_service: ServiceFactory, kind: str) -> None:
    with (
        RECEIVERS[kind]([Answer(404)]).running() as receiver,
        notifying_service(webhook_allow_http=True) as service,
    ):
        (key,) = service.put_integration("acme", channels=[channel(kind, receiver.url)])
        submit(service, key, "c1", 1, [failing("missing_keys", OAUTH)])
        wait_settled(service)
        (item,) = notifications(service, "acme")
        assert len(receiver.received) == 1
    assert (item["status"], item["attempts"]) == ("dead", 1)
    assert "HTTP 404" in item["lastError"]
    assert receiver.url not in item["lastError"]


def test_a_repeat_interval_spaces_out_reminders_of_one_alert(
    notifying_service: ServiceFactory,
) -> None:
    with (
        slack_receiver().running() as slack,
        WebhookReceiver(SIGNING_KEY).running() as hook,
        notifying_service(webhook_allow_http=True) as service,
    ):
        channels = [
            channel("slack", slack.url, repeatInterval="1h"),
            {"name": "hook", "type": "webhook", "url": hook.url, "signingKey": SIGNING_KEY},
        ]
        (key,) = service.put_integration("acme", channels=channels)
        one = [failing("missing_keys", OAUTH)]
        submit(service, key, "c1", 1, one)
        submit(service, key, "c2", 2, one)  # recurring within the hour: not repeated
        submit(service, key, "c3", 3, [*one, failing("rotation", "db/production")])
        wait_settled(service)
        texts = [r.json["text"] for r in slack.received]
        assert len(hook.received) == 3  # no interval: every report
    # The new alert still goes out at once; the recurring one stays quiet.
    assert texts == ["[Clef Pro] Acme: 1 critical, 1 new", "[Clef Pro] Acme: 1 critical, 1 new"]
    assert "rotation" in str(slack.received[1].json)
    assert "missing_keys" not in str(slack.received[1].json)


def test_an_acknowledgement_for_a_while_runs_out_and_notifies_again(
    notifying_service: ServiceFactory,
) -> None:
    with (
        slack_receiver().running() as slack,
        pagerduty_receiver().running() as pagerduty,
        notifying_service(webhook_allow_http=True) as service,
    ):
        channels = [channel("slack", slack.url), channel("pagerduty", pagerduty.url)]
        (key,) = service.put_integration("acme", channels=channels)
        submit(service, key, "c1", 1, [failing("missing_keys", OAUTH)])
        wait_settled(service)
        (alert,) = service.alerts("acme")
        acknowledged = service.acknowledge(alert["id"], acknowledge_for="1s")
        assert acknowledged["acknowledgedUntil"] is not None
        slack.wait_for(2, timeout=20)
        wait_settled(service)
        (after,) = service.alerts("acme")
    assert after["acknowledged"] is False
    assert after["status"] == "open"
    assert "acknowledgement ran out" in str(slack.received[1].json)
    assert [r.json["event_action"] for r in pagerduty.received] == [
        "trigger",
        "acknowledge",
        "trigger",
    ]


def test_a_silent_integration_opens_an_alert_that_the_next_report_resolves(
    notifying_service: ServiceFactory,
) -> None:
    with (
        WebhookReceiver(SIGNING_KEY).running() as hook,
        notifying_service(webhook_allow_http=True) as service,
    ):
        channels = [{"name": "hook", "type": "webhook", "url": hook.url, "signingKey": SIGNING_KEY}]
        (key,) = service.put_integration("acme", channels=channels, expectReportsEvery="1s")
        submit(service, key, "c1", 1, [passing("missing_keys", OAUTH)])
        (request,) = hook.wait_for(1, timeout=20)
        (silent,) = request.json["alerts"]
        assert (silent["ruleId"], silent["event"], silent["scope"]) == (
            "clef-pro/silent",
            "opened",
            "*",
        )
        assert silent["message"].startswith("No report for ")
        submit(service, key, "c2", 2, [passing("missing_keys", OAUTH)])
        (resolved,) = [a for a in service.alerts("acme") if a["ruleId"] == "clef-pro/silent"][:1]
    assert resolved["status"] == "resolved"
    assert resolved["resolvedByCommit"] == sha("c2")


@pytest.mark.alertmanager
def test_alertmanager_alerts_are_pushed_again_before_they_end(
    notifying_service: ServiceFactory, alertmanager: Alertmanager
) -> None:
    with notifying_service() as service:
        channels = [
            {"name": "am", "type": "alertmanager", "url": alertmanager.url, "resendInterval": "1s"}
        ]
        (key,) = service.put_integration("acme", channels=channels)
        submit(service, key, "c1", 1, [failing("missing_keys", OAUTH)])
        (first,) = alertmanager.wait_for_alerts(lambda alerts: len(alerts) == 1)
        (later,) = alertmanager.wait_for_alerts(
            lambda alerts: len(alerts) == 1 and alerts[0]["endsAt"] > first["endsAt"]
        )
        pushes = wait_for(
            lambda: items if len(items := notifications(service, "acme")) >= 2 else None,
            timeout=20,
        )
    assert later["startsAt"] == first["startsAt"]
    assert {item["reportId"] for item in pushes} >= {None}
