"""The seed's lifecycle example, counted at every kind of receiver at once.

abc opens missing_keys on oauth/production, def repeats it, someone
acknowledges it, ghi repeats it, jkl fixes it, mno breaks it again. Each
channel type hears of exactly what the spec's table and its own semantics
say: people (email, webhook, Slack, Teams) of abc, def and mno; PagerDuty of
trigger, trigger, acknowledge, resolve, trigger; Alertmanager of the alert's
every state, as its own API shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.notifications.conftest import ServiceFactory, notifications, wait_settled
from tests.support.alertmanager import Alertmanager
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.receivers import (
    Receiver,
    pagerduty_receiver,
    slack_receiver,
    teams_receiver,
)
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer
from tests.support.webhook import WebhookReceiver

pytestmark = [pytest.mark.postgres, pytest.mark.smtp, pytest.mark.alertmanager]

OAUTH = "oauth/production"
SIGNING_KEY = "whsec-test-0123456789abcdef"
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"
SEED = {"abc": "abc1", "def": "def2", "ghi": "0713", "jkl": "0a54", "mno": "0d65"}


class Receivers:
    def __init__(self, stack: ExitStack) -> None:
        self.webhook = stack.enter_context(WebhookReceiver(SIGNING_KEY).running())
        self.slack: Receiver = stack.enter_context(slack_receiver().running())
        self.teams: Receiver = stack.enter_context(teams_receiver().running())
        self.pagerduty: Receiver = stack.enter_context(pagerduty_receiver().running())

    def channels(self, alertmanager: Alertmanager) -> list[dict[str, Any]]:
        return [
            {"name": "email", "to": ["security@acme.com"], "minSeverity": "critical"},
            {"name": "hook", "type": "webhook", "url": self.webhook.url, "signingKey": SIGNING_KEY},
            {"name": "chat", "type": "slack", "url": self.slack.url},
            {"name": "teams", "type": "teams", "url": self.teams.url},
            {
                "name": "oncall",
                "type": "pagerduty",
                "routingKey": ROUTING_KEY,
                "url": self.pagerduty.url,
            },
            {"name": "am", "type": "alertmanager", "url": alertmanager.url},
        ]


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    with ExitStack() as stack:
        yield Receivers(stack)


def submit(service: ServiceClient, key: str, label: str, ts: int, passed: bool = False) -> None:
    result = (passing if passed else failing)("missing_keys", OAUTH, "critical")
    service.submit_ok(key, spec_report(sha(SEED[label]), timestamp=ts, policy_results=[result]))


def test_the_seed_lifecycle_at_every_kind_of_receiver(
    notifying_service: ServiceFactory,
    smtp_server: SmtpServer,
    alertmanager: Alertmanager,
    receivers: Receivers,
) -> None:
    with notifying_service(
        smtp_host=smtp_server.host, smtp_port=smtp_server.port, webhook_allow_http=True
    ) as service:
        (key,) = service.put_integration("acme", channels=receivers.channels(alertmanager))

        submit(service, key, "abc", 1)
        wait_settled(service)
        (first,) = alertmanager.wait_for_alerts(lambda alerts: len(alerts) == 1)
        assert first["labels"] == {
            "alertname": "ClefProPolicyViolation",
            "integration": "acme",
            "rule": "missing_keys",
            "scope": OAUTH,
            "severity": "critical",
        }
        assert first["status"]["state"] == "active"
        assert "acknowledged" not in first["annotations"]

        submit(service, key, "def", 2)
        wait_settled(service)
        (alert,) = service.alerts("acme")
        service.acknowledge(alert["id"])
        wait_settled(service)
        alertmanager.wait_for_alerts(
            lambda alerts: [a["annotations"].get("acknowledged") for a in alerts] == ["true"]
        )

        submit(service, key, "ghi", 3)  # acknowledged: silent for people and PagerDuty
        wait_settled(service)
        (still,) = alertmanager.alerts()
        assert still["annotations"]["acknowledged"] == "true"  # still open, still acknowledged

        submit(service, key, "jkl", 4, passed=True)
        wait_settled(service)
        alertmanager.wait_for_alerts(lambda alerts: alerts == [])  # resolved: no longer active

        submit(service, key, "mno", 5)  # a fresh alert
        wait_settled(service)
        (fresh,) = alertmanager.wait_for_alerts(lambda alerts: len(alerts) == 1)
        assert "acknowledged" not in fresh["annotations"]
        assert fresh["startsAt"] > first["startsAt"]
        fresh_alert = next(a for a in service.alerts("acme") if a["status"] == "open")
        listed = notifications(service, "acme")

    people = [sha(SEED[label]) for label in ("abc", "def", "mno")]
    assert [str(m.message["X-Clef-Pro-Commit"]) for m in smtp_server.received] == people
    assert [r.json["report"]["commitSha"] for r in receivers.webhook.received] == people
    assert all(r.signature_valid for r in receivers.webhook.received)
    for receiver in (receivers.slack, receivers.teams):
        assert len(receiver.received) == 3
        assert all(r.problems == () and r.answered in (200, 202) for r in receiver.received)
    assert [r.json["text"] for r in receivers.slack.received] == [
        "[Clef Pro] Acme: 1 critical, 1 new",
        "[Clef Pro] Acme: 1 critical, 1 recurring",
        "[Clef Pro] Acme: 1 critical, 1 new",
    ]

    events = [r.json for r in receivers.pagerduty.received]
    assert all(r.problems == () and r.answered == 202 for r in receivers.pagerduty.received)
    assert [e["event_action"] for e in events] == [
        "trigger",
        "trigger",
        "acknowledge",
        "resolve",
        "trigger",
    ]
    assert [e["dedup_key"] for e in events] == [alert["id"]] * 4 + [fresh_alert["id"]]
    assert events[0]["payload"]["severity"] == "critical"

    by_channel: dict[str, int] = {}
    for item in listed:
        assert item["status"] == "sent", item
        by_channel[item["channel"]["name"]] = by_channel.get(item["channel"]["name"], 0) + 1
    # Alertmanager: abc, def, the acknowledgement, ghi, jkl (endsAt) and mno.
    assert by_channel == {
        "email": 3,
        "hook": 3,
        "chat": 3,
        "teams": 3,
        "oncall": 5,
        "am": 6,
    }
