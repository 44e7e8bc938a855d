"""Resolving an Integration and what it selects into the service's config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from clef_pro.domain.config import (
    AlertmanagerChannel,
    ApiKeyHash,
    EmailChannel,
    PagerDutyChannel,
    SlackChannel,
    TeamsChannel,
)
from clef_pro_operator.conditions import set_condition
from clef_pro_operator.resolve import (
    ChannelSecrets,
    Named,
    ResolutionError,
    integration_id,
    resolve,
    secret_name,
)
from clef_pro_operator.resources import (
    IntegrationSpec,
    LabelSelector,
    NotificationChannelSpec,
    PolicySpec,
)

HASH = ApiKeyHash(name="ci", sha256="0" * 64)


def policy(name: str, labels: dict[str, str], *rules: Any) -> Named:
    return Named(name, labels, PolicySpec.model_validate({"rules": list(rules)}))


ROTATION = {
    "id": "rotation_max_age",
    "displayName": "Key rotation max age",
    "severity": "warning",
    "type": "rotationMaxAge",
    "rotationMaxAge": {"maxAgeDays": 90},
}
MIN_RECIPIENTS = {
    "id": "min_recipients",
    "displayName": "Minimum recipients",
    "severity": "critical",
    "type": "minRecipients",
    "minRecipients": {"min": 2},
}
EMAIL = Named(
    "security",
    {"team": "sec"},
    NotificationChannelSpec.model_validate(
        {"type": "email", "email": {"to": ["security@acme.example"]}, "minSeverity": "critical"}
    ),
)


def spec(**fields: object) -> IntegrationSpec:
    return IntegrationSpec.model_validate({"displayName": "Payments", **fields})


def test_rule_parameters_are_renamed_for_the_cli() -> None:
    resolution = resolve(
        spec(policySelector={}), [policy("p", {}, ROTATION, MIN_RECIPIENTS)], [], [HASH]
    )
    rules = {rule.rule_id: rule for rule in resolution.config.policies}
    assert rules["rotation_max_age"].params == {"maxAgeDays": 90}
    assert rules["min_recipients"].params == {"minRecipients": 2}
    assert rules["min_recipients"].severity == "critical"


def test_an_absent_selector_selects_nothing_and_an_empty_one_selects_all() -> None:
    policies = [policy("a", {"tier": "1"}, ROTATION), policy("b", {}, MIN_RECIPIENTS)]
    assert resolve(spec(), policies, [], [HASH]).config.policies == []
    assert len(resolve(spec(policySelector={}), policies, [], [HASH]).config.policies) == 2
    chosen = resolve(spec(policySelector={"matchLabels": {"tier": "1"}}), policies, [], [HASH])
    assert [rule.rule_id for rule in chosen.config.policies] == ["rotation_max_age"]


def test_match_expressions_follow_kubernetes_semantics() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "stage"]},
                {"key": "legacy", "operator": "DoesNotExist"},
            ]
        }
    )
    assert selector.matches({"env": "prod"})
    assert not selector.matches({"env": "dev"})
    assert not selector.matches({"env": "prod", "legacy": "yes"})


def test_one_rule_id_in_two_policies_is_refused_with_a_reason() -> None:
    with pytest.raises(ResolutionError) as refused:
        resolve(
            spec(policySelector={}),
            [policy("a", {}, ROTATION), policy("b", {}, ROTATION)],
            [],
            [HASH],
        )
    assert refused.value.reason == "DuplicateRuleId"


def test_channels_become_email_channels_with_their_filters() -> None:
    resolution = resolve(spec(notificationChannelSelector={}), [], [EMAIL], [HASH])
    (channel,) = resolution.config.channels
    assert isinstance(channel, EmailChannel)
    assert channel.name == "security"
    assert channel.to == ["security@acme.example"]
    assert channel.min_severity == "critical"
    assert resolution.channels == ["security"]


def test_only_hashes_reach_the_config() -> None:
    document = resolve(spec(), [], [], [HASH]).config.model_dump(mode="json", by_alias=True)
    assert document["apiKeys"] == [{"name": "ci", "sha256": "0" * 64}]


def test_ids_and_secret_names_default_from_the_object() -> None:
    assert integration_id("payments", "api", spec()) == "payments.api"
    assert integration_id("payments", "api", spec(integrationId="pay-1")) == "pay-1"
    assert secret_name("api", spec()) == "api-clef-pro"


def test_a_condition_keeps_its_transition_time_while_its_status_holds() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = set_condition(
        [], type_="Ready", status=True, reason="Synced", message="", generation=1, now=t0
    )
    same = set_condition(
        first,
        type_="Ready",
        status=True,
        reason="Synced",
        message="x",
        generation=2,
        now=t0 + timedelta(hours=1),
    )
    flipped = set_condition(
        same,
        type_="Ready",
        status=False,
        reason="ServiceUnreachable",
        message="",
        generation=2,
        now=t0 + timedelta(hours=2),
    )
    assert same[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert same[0]["observedGeneration"] == 2
    assert flipped[0]["lastTransitionTime"] == "2026-01-01T02:00:00Z"


def test_every_channel_type_resolves_with_its_secrets_and_intervals() -> None:
    ref = {"name": "destinations", "key": "k"}

    def channel(name: str, body: dict[str, Any]) -> Named:
        return Named(name, {}, NotificationChannelSpec.model_validate(body))

    channels = [
        channel("chat", {"type": "slack", "slack": {"urlSecretRef": ref}, "repeatInterval": "4h"}),
        channel("teams", {"type": "teams", "teams": {"urlSecretRef": ref}}),
        channel("oncall", {"type": "pagerduty", "pagerduty": {"routingKeySecretRef": ref}}),
        channel(
            "am",
            {
                "type": "alertmanager",
                "alertmanager": {"urlSecretRef": ref, "resendInterval": "30m"},
            },
        ),
    ]
    secrets = {
        "chat": ChannelSecrets({"url": "https://hooks.slack.com/services/T/B/x"}),
        "teams": ChannelSecrets({"url": "https://acme.logic.azure.com/workflows/x"}),
        "oncall": ChannelSecrets({"routing_key": "R0UT1NGK3Y0123456789abcdefABCDEF"}),
        "am": ChannelSecrets({"url": "http://alertmanager.monitoring.svc:9093"}),
    }
    resolution = resolve(
        spec(notificationChannelSelector={}, expectReportsEvery="24h"),
        [],
        channels,
        [HASH],
        secrets,
    )
    config = resolution.config
    assert config.expect_reports_every == "24h"
    by_name = {c.name: c for c in config.channels}
    assert isinstance(by_name["chat"], SlackChannel)
    assert by_name["chat"].repeat_interval == "4h"
    assert isinstance(by_name["teams"], TeamsChannel)
    assert isinstance(by_name["oncall"], PagerDutyChannel)
    assert by_name["oncall"].url == "https://events.pagerduty.com/v2/enqueue"
    assert isinstance(by_name["am"], AlertmanagerChannel)
    assert by_name["am"].resend_interval == "30m"
    document = config.document()
    assert document["channels"][2]["routingKey"] == "R0UT1NGK3Y0123456789abcdefABCDEF"
    with pytest.raises(ResolutionError, match="no Secret resolved"):
        resolve(spec(notificationChannelSelector={}), [], channels, [HASH], {})
