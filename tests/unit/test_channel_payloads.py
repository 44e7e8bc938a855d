"""Slack, Teams, PagerDuty and Alertmanager payloads, held to the services' rules.

The same validators the loopback receivers apply (Block Kit limits, the
Adaptive Card 1.5 schema, Events API v2 fields) run here on the worst cases:
many alerts, long messages, characters with meaning in markup.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from clef_pro.domain.config import (
    AlertmanagerChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
)
from clef_pro.domain.lifecycle import SILENT_RULE_ID, AlertEvent
from clef_pro.domain.notify import AlertNotice, Digest
from clef_pro.domain.severity import Severity
from clef_pro_api.notifications.alertmanager import alertmanager_alert
from clef_pro_api.notifications.backend import Delivery
from clef_pro_api.notifications.pagerduty import pagerduty_event
from clef_pro_api.notifications.render import Links
from clef_pro_api.notifications.slack import slack_message
from clef_pro_api.notifications.teams import teams_message
from tests.support.receivers import pagerduty_problems, slack_problems, teams_problems

LINKS = Links("https://clef.example")
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ROUTING_KEY = "R0UT1NGK3Y0123456789abcdefABCDEF"


def notice(index: int, event: AlertEvent = AlertEvent.OPENED, **extra: object) -> AlertNotice:
    fields: dict[str, object] = {
        "alert_id": f"00000000-0000-4000-8000-{index:012d}",
        "event": event,
        "rule_id": f"rule_{index}",
        "rule_name": f"Rule <{index}> & | friends",
        "scope": f"ns{index}/production",
        "severity": (Severity.CRITICAL, Severity.WARNING, Severity.INFO)[index % 3],
        "message": f"Missing <keys> & more in ns{index}/production " + "x" * 2000,
        "introduced_by_commit": "abc1234def5678",
        "opened_at": NOW - timedelta(hours=2),
    }
    fields.update(extra)
    return AlertNotice(**fields)  # type: ignore[arg-type]


def digest(notices: list[AlertNotice], *, report: bool = True) -> Digest:
    return Digest(
        integration_id="payments.api",
        integration_name="Payments <API> & co",
        report_id="r1" if report else None,
        commit_sha="abc1234def5678abc1234def5678abc1234def56" if report else "",
        branch="main" if report else "",
        alerts=tuple(notices),
    )


def delivery(channel: object, notices: list[AlertNotice], **kwargs: bool) -> Delivery:
    return Delivery(
        notification_id="n1",
        message_id="<n1@clef>",
        attempt=1,
        created_at=NOW,
        channel=channel,  # type: ignore[arg-type]
        digest=digest(notices, **kwargs),
    )


SLACK = SlackChannel(name="chat", type="slack", url="https://hooks.slack.com/services/T/B/x")
TEAMS = TeamsChannel(name="teams", type="teams", url="https://example.logic.azure.com/x")


@pytest.mark.parametrize("count", [1, 3, 47, 48, 49, 120])
def test_slack_messages_keep_block_kit_limits_at_any_size(count: int) -> None:
    notices = [
        notice(i, AlertEvent.OPENED if i % 2 else AlertEvent.RECURRING) for i in range(count)
    ]
    message = slack_message(delivery(SLACK, notices), LINKS)
    assert slack_problems(message) == []
    assert len(message["blocks"]) <= 50
    text = str(message)
    if count > 40:
        assert "more: <https://clef.example/integrations/payments.api|" in text
    assert "Payments &lt;API&gt; &amp; co" in text  # mrkdwn is escaped
    assert message["text"].startswith("[Clef Pro] Payments <API> & co:")


@pytest.mark.parametrize("count", [1, 25, 26, 120])
def test_teams_cards_are_valid_adaptive_cards_1_5(count: int) -> None:
    message = teams_message(delivery(TEAMS, [notice(i) for i in range(count)]), LINKS)
    assert teams_problems(message) == []
    card = message["attachments"][0]["content"]
    assert card["version"] == "1.5"
    assert card["actions"][0]["url"] == "https://clef.example/integrations/payments.api"


def test_a_message_between_reports_names_no_commit() -> None:
    notices = [notice(1, AlertEvent.RECURRING, acknowledgement_expired=True)]
    slack = slack_message(delivery(SLACK, notices, report=False), LINKS)
    assert slack_problems(slack) == []
    assert "commit" not in slack["blocks"][1]["elements"][0]["text"]
    assert "acknowledgement ran out" in str(slack)
    teams = teams_message(delivery(TEAMS, notices, report=False), LINKS)
    assert teams_problems(teams) == []


def test_pagerduty_maps_the_lifecycle_one_to_one() -> None:
    events = {
        event: pagerduty_event(notice(1, event), digest([]), ROUTING_KEY, LINKS, at=NOW.isoformat())
        for event in AlertEvent
    }
    for event in events.values():
        assert pagerduty_problems(event) == []
    assert {e: v["event_action"] for e, v in events.items()} == {
        AlertEvent.OPENED: "trigger",
        AlertEvent.RECURRING: "trigger",
        AlertEvent.ACKNOWLEDGED: "acknowledge",
        AlertEvent.RESOLVED: "resolve",
    }
    assert {v["dedup_key"] for v in events.values()} == {notice(1).alert_id}
    trigger = events[AlertEvent.OPENED]
    assert len(trigger["payload"]["summary"]) <= 1024
    assert trigger["payload"]["severity"] == "warning"  # notice(1) is a warning
    assert trigger["links"][0]["href"].startswith("https://clef.example/integrations/payments.api/")
    assert set(trigger["payload"]["custom_details"]) <= {
        "integration",
        "rule",
        "scope",
        "message",
        "introduced_by_commit",
        "reported_commit",
        "branch",
        "note",
    }
    assert "payload" not in events[AlertEvent.RESOLVED]


def test_pagerduty_severities_are_its_own() -> None:
    for index, expected in ((0, "critical"), (1, "warning"), (2, "info")):
        event = pagerduty_event(notice(index), digest([]), ROUTING_KEY, LINKS, at="x")
        assert event["payload"]["severity"] == expected


def test_alertmanager_alerts_carry_labels_times_and_acknowledgement() -> None:
    every = timedelta(hours=1)
    firing = alertmanager_alert(notice(0), digest([]), LINKS, now=NOW, resend_every=every)
    assert firing["labels"] == {
        "alertname": "ClefProPolicyViolation",
        "integration": "payments.api",
        "rule": "rule_0",
        "scope": "ns0/production",
        "severity": "critical",
    }
    assert firing["startsAt"] == "2026-05-01T10:00:00Z"
    assert firing["endsAt"] == "2026-05-01T16:00:00Z"  # four resend intervals ahead
    assert "acknowledged" not in firing["annotations"]
    acked = alertmanager_alert(
        notice(0, AlertEvent.ACKNOWLEDGED, acknowledged=True, acknowledged_by="dana"),
        digest([]),
        LINKS,
        now=NOW,
        resend_every=every,
    )
    assert acked["labels"] == firing["labels"]  # the same alert to Alertmanager
    assert acked["annotations"]["acknowledged"] == "true"
    assert acked["annotations"]["acknowledged_by"] == "dana"
    resolved = alertmanager_alert(
        notice(0, AlertEvent.RESOLVED), digest([]), LINKS, now=NOW, resend_every=every
    )
    assert resolved["endsAt"] == "2026-05-01T12:00:00Z"
    silent = alertmanager_alert(
        notice(0, rule_id=SILENT_RULE_ID, scope="*"), digest([]), LINKS, now=NOW, resend_every=every
    )
    assert silent["labels"]["alertname"] == "ClefProIntegrationSilent"


def test_channel_models_keep_their_secrets_out_of_repr() -> None:
    pagerduty = PagerDutyChannel(name="pd", type="pagerduty", routing_key=SecretStr(ROUTING_KEY))
    alertmanager = AlertmanagerChannel(
        name="am", type="alertmanager", url="http://user:pw@am.monitoring.svc:9093"
    )
    for channel in (SLACK, TEAMS, pagerduty, alertmanager):
        text = repr(channel)
        assert ROUTING_KEY not in text
        assert "hooks.slack.com" not in text
        assert "pw@" not in text
