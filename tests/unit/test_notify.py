"""The notification policy as pure functions: the spec's table, severity filters,
ordering, subjects, Message-IDs, retries and webhook signatures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from clef_pro.domain import signature
from clef_pro.domain.config import EmailChannel, IntegrationConfig, WebhookChannel
from clef_pro.domain.lifecycle import AlertEvent
from clef_pro.domain.notify import (
    DEFAULT_MESSAGE_ID_DOMAIN,
    AlertNotice,
    Digest,
    GiveUp,
    RetryAt,
    RetryPolicy,
    alerts_for_channel,
    message_id,
    one_line,
    qualifies,
    subject,
)
from clef_pro.domain.severity import Severity

OPENED, RECURRING, RESOLVED = AlertEvent.OPENED, AlertEvent.RECURRING, AlertEvent.RESOLVED
INFO, WARNING, CRITICAL = Severity.INFO, Severity.WARNING, Severity.CRITICAL


@dataclass(frozen=True)
class Rules:
    min_severity: Severity = INFO
    send_resolved: bool = False
    name: str = "team"
    repeat_every: timedelta | None = None
    mirrors_alert_state: bool = False
    mirrors_open_alerts: bool = False


def notice(
    event: AlertEvent = OPENED,
    severity: Severity = CRITICAL,
    *,
    acknowledged: bool = False,
    rule_id: str = "missing_keys",
    scope: str = "oauth/production",
    alert_id: str | None = None,
) -> AlertNotice:
    return AlertNotice(
        alert_id=alert_id or f"{rule_id}:{scope}",
        event=event,
        rule_id=rule_id,
        rule_name=rule_id.replace("_", " ").capitalize(),
        scope=scope,
        severity=severity,
        message=f"{rule_id} fails",
        acknowledged=acknowledged,
        introduced_by_commit="abc1234",
    )


# ------------------------------------------------------------------ the spec's table


@pytest.mark.parametrize(
    ("event", "acknowledged", "send_resolved", "notified"),
    [
        (OPENED, False, False, True),  # new alert opened: yes
        (RECURRING, False, False, True),  # still failing, unacknowledged: yes, again
        (RECURRING, True, False, False),  # still failing, acknowledged: no
        (RESOLVED, False, False, False),  # resolved: not by default
        (RESOLVED, False, True, True),  # ... unless the channel opts in
        (RESOLVED, True, True, False),  # ... and never for an acknowledged alert
        (RECURRING, True, True, False),  # opting in to resolutions changes nothing else
    ],
)
def test_the_spec_notification_table(
    event: AlertEvent, acknowledged: bool, send_resolved: bool, notified: bool
) -> None:
    rules = Rules(send_resolved=send_resolved)
    assert qualifies(notice(event, acknowledged=acknowledged), rules) is notified


@pytest.mark.parametrize(("severity", "minimum"), list(itertools.product(Severity, Severity)))
@pytest.mark.parametrize("event", [OPENED, RECURRING, RESOLVED])
def test_a_channel_minimum_filters_every_event(
    severity: Severity, minimum: Severity, event: AlertEvent
) -> None:
    rules = Rules(min_severity=minimum, send_resolved=True)
    assert qualifies(notice(event, severity), rules) is (severity.rank >= minimum.rank)


def test_a_critical_channel_never_receives_a_warning() -> None:
    critical_only = Rules(min_severity=CRITICAL, send_resolved=True)
    for event in AlertEvent:
        assert not qualifies(notice(event, WARNING), critical_only)
        assert not qualifies(notice(event, INFO), critical_only)


def test_real_channel_models_are_channel_rules() -> None:
    email = EmailChannel(name="sec", to=["sec@acme.com"], min_severity=CRITICAL)
    webhook = WebhookChannel(
        name="hook", type="webhook", url="https://h.example/x", signing_key="k" * 16
    )
    assert qualifies(notice(OPENED, CRITICAL), email)
    assert not qualifies(notice(OPENED, WARNING), email)
    assert qualifies(notice(OPENED, WARNING), webhook)  # default minimum: warning
    assert not qualifies(notice(OPENED, INFO), webhook)


# ------------------------------------------------------------------ one message's content


def test_a_message_lists_new_then_recurring_then_resolved_most_severe_first() -> None:
    notices = [
        notice(RESOLVED, CRITICAL, rule_id="fixed"),
        notice(RECURRING, WARNING, rule_id="b_old"),
        notice(RECURRING, CRITICAL, rule_id="z_old"),
        notice(OPENED, WARNING, rule_id="a_new"),
        notice(OPENED, CRITICAL, rule_id="y_new"),
        notice(OPENED, CRITICAL, rule_id="b_new"),
    ]
    chosen = alerts_for_channel(notices, Rules(send_resolved=True))
    assert [n.rule_id for n in chosen] == ["b_new", "y_new", "a_new", "z_old", "b_old", "fixed"]


def test_a_message_leaves_out_what_the_channel_does_not_want() -> None:
    notices = [
        notice(OPENED, WARNING, rule_id="warned"),
        notice(RECURRING, CRITICAL, rule_id="silenced", acknowledged=True),
        notice(RECURRING, CRITICAL, rule_id="loud"),
        notice(RESOLVED, CRITICAL, rule_id="fixed"),
    ]
    chosen = alerts_for_channel(notices, Rules(min_severity=CRITICAL))
    assert [n.rule_id for n in chosen] == ["loud"]
    assert alerts_for_channel([notices[1]], Rules()) == ()


def digest(*notices: AlertNotice, name: str = "Payments") -> Digest:
    return Digest("payments", name, "r1", "a" * 40, "main", tuple(notices))


def test_subject_names_integration_highest_severity_and_counts() -> None:
    mail = digest(
        notice(OPENED, CRITICAL, rule_id="a"),
        notice(OPENED, WARNING, rule_id="b"),
        notice(RECURRING, WARNING, rule_id="c"),
    )
    assert subject(mail) == "[Clef Pro] Payments: 1 critical, 2 new, 1 recurring"
    assert mail.highest_severity is CRITICAL
    assert (mail.opened, mail.recurring, mail.resolved) == (2, 1, 0)


def test_subject_of_warnings_and_of_resolutions_only() -> None:
    assert (
        subject(digest(notice(RECURRING, WARNING, rule_id="a"), notice(RECURRING, WARNING)))
        == "[Clef Pro] Payments: 2 warning, 2 recurring"
    )
    resolved_only = digest(notice(RESOLVED, CRITICAL))
    assert subject(resolved_only) == "[Clef Pro] Payments: 1 resolved"
    assert resolved_only.highest_severity is CRITICAL
    mixed = digest(notice(RECURRING, INFO), notice(RESOLVED, CRITICAL, rule_id="x"))
    assert subject(mixed) == "[Clef Pro] Payments: 1 info, 1 recurring, 1 resolved"
    assert mixed.highest_severity is INFO  # what still fails decides


def test_subject_is_one_bounded_line_whatever_the_name() -> None:
    text = subject(digest(notice(), name="Pay\r\nBcc: evil@example.com\tments " + "x" * 300))
    assert "\n" not in text
    assert "\r" not in text
    assert len(text) < 140
    assert one_line("  a \n b  ", 10) == "a b"
    assert one_line("abcdefghijkl", 5) == "abcd…"


def test_digest_round_trips_through_its_payload() -> None:
    original = digest(
        notice(OPENED, CRITICAL, rule_id="a"), notice(RESOLVED, INFO, acknowledged=True)
    )
    payload = original.to_payload()
    assert Digest.from_payload(payload) == original
    assert payload["alerts"][0]["ruleId"] == "a"
    assert set(payload) == {"integration", "report", "alerts"}


def test_a_payload_carries_only_what_the_read_api_shows() -> None:
    fields = set(notice().to_payload())
    assert fields == {
        "alertId",
        "event",
        "ruleId",
        "ruleName",
        "scope",
        "severity",
        "message",
        "acknowledged",
        "introducedByCommit",
    }


# ------------------------------------------------------------------ Message-ID


@pytest.mark.parametrize(
    ("sender", "domain"),
    [
        ("alerts@clef.example", "clef.example"),
        ("Clef Pro <Alerts@Clef.Example>", "clef.example"),
        ("clef-pro@localhost", "localhost"),
        (None, DEFAULT_MESSAGE_ID_DOMAIN),
        ("not an address", DEFAULT_MESSAGE_ID_DOMAIN),
        ("x@bad domain>\r\n", DEFAULT_MESSAGE_ID_DOMAIN),
    ],
)
def test_message_id_is_stable_and_well_formed(sender: str | None, domain: str) -> None:
    first = message_id("6f1c0f4e-0000-4000-8000-000000000001", sender)
    assert first == f"<6f1c0f4e-0000-4000-8000-000000000001@{domain}>"
    assert message_id("6f1c0f4e-0000-4000-8000-000000000001", sender) == first


# ------------------------------------------------------------------ retries


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=20, base_seconds=30, max_seconds=3600)
    ceilings = [policy.ceiling(n) for n in range(1, 10)]
    assert ceilings == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert policy.ceiling(10_000) == 3600


def test_full_jitter_spreads_the_wait_over_zero_to_the_ceiling() -> None:
    policy = RetryPolicy(max_attempts=20, base_seconds=10, max_seconds=1000)
    assert policy.after_failure(3, permanent=False, random=lambda: 0.0) == RetryAt(0.0)
    assert policy.after_failure(3, permanent=False, random=lambda: 0.5) == RetryAt(20.0)
    high = policy.after_failure(3, permanent=False, random=lambda: 0.999)
    assert isinstance(high, RetryAt)
    assert 39.9 < high.delay_seconds < 40
    # A misbehaving random source cannot push the wait outside the window.
    assert policy.after_failure(3, permanent=False, random=lambda: 7.0) == RetryAt(40.0)
    assert policy.after_failure(3, permanent=False, random=lambda: -1.0) == RetryAt(0.0)


def test_gives_up_after_the_limit_or_at_once_when_permanent() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=10)
    assert isinstance(policy.after_failure(2, permanent=False, random=lambda: 0.5), RetryAt)
    last = policy.after_failure(3, permanent=False, random=lambda: 0.5)
    assert last == GiveUp("gave up after 3 attempts")
    assert isinstance(policy.after_failure(1, permanent=True, random=lambda: 0.5), GiveUp)


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_attempts": 0},
        {"base_seconds": 0},
        {"base_seconds": 10, "max_seconds": 5},
    ],
)
def test_a_nonsensical_retry_policy_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must be|need"):
        RetryPolicy(**arguments)


# ------------------------------------------------------------------ webhook signatures


def test_a_signature_verifies_and_breaks_on_any_change() -> None:
    key, body, at = b"k" * 32, b'{"id":"n1"}', 1_700_000_000
    signed = signature.sign(key, at, body)
    assert signed.startswith("sha256=")
    assert signature.verify(key, at, body, signed, now=at + 10)
    assert not signature.verify(key, at, body + b" ", signed, now=at)
    assert not signature.verify(key, at + 1, body, signed, now=at)
    assert not signature.verify(b"x" * 32, at, body, signed, now=at)


def test_a_replayed_request_is_refused_once_its_timestamp_is_stale() -> None:
    key, body, at = b"k" * 32, b"{}", 1_700_000_000
    signed = signature.sign(key, at, body)
    assert not signature.verify(key, at, body, signed, now=at + 301)
    assert signature.verify(key, at, body, signed, now=at + 299)


# ------------------------------------------------------------------ channel config


def webhook_body(**extra: Any) -> dict[str, Any]:
    return {
        "name": "hook",
        "type": "webhook",
        "url": "https://hooks.example/clef?token=t0k3n",
        "signingKey": "s" * 24,
        **extra,
    }


def test_webhook_secrets_are_masked_everywhere_but_the_stored_document() -> None:
    config = IntegrationConfig.model_validate({"displayName": "x", "channels": [webhook_body()]})
    assert "s" * 24 not in repr(config)
    assert "hooks.example" not in repr(config)
    assert "s" * 24 not in config.model_dump_json()
    stored = config.document()
    assert stored["channels"][0]["signingKey"] == "s" * 24
    assert stored["channels"][0]["url"] == "https://hooks.example/clef?token=t0k3n"
    assert IntegrationConfig.model_validate(stored) == config


def test_a_masked_key_sent_by_mistake_is_refused() -> None:
    config = IntegrationConfig.model_validate({"displayName": "x", "channels": [webhook_body()]})
    with pytest.raises(ValidationError, match="signingKey"):
        IntegrationConfig.model_validate(config.model_dump(mode="json", by_alias=True))


def test_an_email_channel_needs_no_type_and_an_unknown_type_is_named() -> None:
    config = IntegrationConfig.model_validate(
        {"displayName": "x", "channels": [{"name": "team", "to": ["t@acme.com"]}]}
    )
    assert isinstance(config.channels[0], EmailChannel)
    with pytest.raises(ValidationError, match="type must be one of: email, webhook, slack"):
        IntegrationConfig.model_validate(
            {"displayName": "x", "channels": [{"name": "s", "type": "matrix"}]}
        )


@pytest.mark.parametrize(
    "change",
    [
        {"url": "ftp://hooks.example/x"},
        {"url": "https://"},
        {"url": "https://hooks.example/a b"},
        {"signingKey": "short"},
    ],
)
def test_bad_webhook_channels_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        IntegrationConfig.model_validate({"displayName": "x", "channels": [webhook_body(**change)]})


def test_channel_names_are_unique() -> None:
    with pytest.raises(ValidationError, match="unique"):
        IntegrationConfig.model_validate(
            {
                "displayName": "x",
                "channels": [
                    {"name": "team", "to": ["a@acme.com"]},
                    webhook_body(name="team"),
                ],
            }
        )


def test_a_config_finds_its_channel_by_name() -> None:
    config = IntegrationConfig.model_validate(
        {"displayName": "x", "channels": [{"name": "team", "to": ["a@acme.com"]}, webhook_body()]}
    )
    assert isinstance(config.channel("hook"), WebhookChannel)
    assert config.channel("gone") is None


def test_notice_is_immutable_and_comparable() -> None:
    first = notice()
    assert replace(first, acknowledged=True) != first
    assert notice() == first


# ------------------------------------------------------------------ repeat intervals and mirrors


def test_a_repeat_interval_holds_back_recurring_notices_only() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    hourly = Rules(repeat_every=timedelta(hours=1))
    recent = replace(notice(RECURRING), last_notified={"team": now - timedelta(minutes=30)})
    old = replace(notice(RECURRING), last_notified={"team": now - timedelta(hours=1)})
    assert not qualifies(recent, hourly, now)
    assert qualifies(old, hourly, now)
    assert qualifies(recent, Rules(), now)  # no interval: every report
    assert qualifies(replace(recent, event=OPENED), hourly, now)
    assert qualifies(replace(recent, acknowledgement_expired=True), hourly, now)
    other = Rules(name="other", repeat_every=timedelta(hours=1))
    assert qualifies(recent, other, now)  # counted per channel


def test_channels_that_mirror_alert_state_hear_of_acknowledgements_and_resolutions() -> None:
    pagerduty = Rules(mirrors_alert_state=True, min_severity=CRITICAL)
    alertmanager = Rules(mirrors_alert_state=True, mirrors_open_alerts=True)
    stamp = {"team": datetime(2026, 5, 1, tzinfo=UTC)}  # the channel was told before
    ack = replace(notice(AlertEvent.ACKNOWLEDGED), last_notified=stamp)
    assert qualifies(ack, pagerduty)
    assert not qualifies(replace(ack, last_notified={}), pagerduty)  # never triggered there
    assert not qualifies(ack, Rules())  # people are not told of acknowledgements
    resolved = replace(notice(RESOLVED, INFO, acknowledged=True), last_notified=stamp)
    assert qualifies(resolved, pagerduty)  # below its minimum now, but it was triggered
    assert not qualifies(resolved, Rules(send_resolved=True))
    acked = notice(RECURRING, acknowledged=True)
    assert not qualifies(acked, pagerduty)
    assert qualifies(acked, alertmanager)  # Alertmanager keeps every open alert
