"""Resolve an Integration and what it selects into the service's config. Pure.

The operator's whole job towards the service is this function: take the
Integration, the Policies and NotificationChannels of its namespace, and the
valid API key hashes, and produce the one :class:`IntegrationConfig` document
the service keeps. Problems come back as a reason and a message for the
Integration's Ready condition, never as a half-made config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from clef_pro.domain.config import (
    AlertmanagerChannel,
    AnyChannel,
    ApiKeyHash,
    Collection,
    EmailChannel,
    IntegrationConfig,
    IntegrationSource,
    PagerDutyChannel,
    PolicyRule,
    SlackChannel,
    TeamsChannel,
    WebhookChannel,
)
from clef_pro.domain.severity import Severity
from clef_pro_operator.resources import (
    IntegrationSpec,
    LabelSelector,
    NotificationChannelSpec,
    PolicyRuleSpec,
    PolicySpec,
)

#: CRD rule parameter -> the name the CLI reads in the service's config.
CLI_PARAMETERS: dict[str, dict[str, str]] = {
    "missingKeys": {},
    "rotationMaxAge": {"maxAgeDays": "maxAgeDays"},
    "minRecipients": {"min": "minRecipients"},
}


@dataclass(frozen=True, slots=True)
class Named:
    """A namespaced object as the resolver needs it: name, labels, parsed spec."""

    name: str
    labels: Mapping[str, str]
    spec: Any


#: Per channel type: the target's Secret references, by the name of the value they hold.
SECRET_REFERENCES: dict[str, dict[str, str]] = {
    "webhook": {"url": "url_secret_ref", "signing_key": "signing_key_secret_ref"},
    "slack": {"url": "url_secret_ref"},
    "teams": {"url": "url_secret_ref"},
    "pagerduty": {"routing_key": "routing_key_secret_ref"},
    "alertmanager": {"url": "url_secret_ref"},
}


@dataclass(frozen=True, slots=True)
class ChannelSecrets:
    """The values a channel's Secret references point at (a URL, a key)."""

    values: Mapping[str, str]


class ResolutionError(Exception):
    """The Integration cannot be put in effect; ``reason`` is a CamelCase word."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Resolution:
    config: IntegrationConfig
    policies: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)


def integration_id(namespace: str, name: str, spec: IntegrationSpec) -> str:
    return spec.integration_id or f"{namespace}.{name}"


def secret_name(name: str, spec: IntegrationSpec) -> str:
    return spec.secret_name or f"{name}-clef-pro"


def selected(selector: LabelSelector | None, objects: Sequence[Named]) -> list[Named]:
    """Kubernetes convention: no selector selects nothing, ``{}`` selects all."""
    if selector is None:
        return []
    return sorted((o for o in objects if selector.matches(dict(o.labels))), key=lambda o: o.name)


def policy_rule(rule: PolicyRuleSpec) -> PolicyRule:
    parameters = getattr(rule, _snake(rule.type), None)
    values = parameters.model_dump(by_alias=True) if parameters is not None else {}
    return PolicyRule(
        rule_id=rule.id,
        rule_name=rule.display_name,
        type=rule.type,
        severity=Severity(rule.severity),
        params={CLI_PARAMETERS[rule.type][key]: value for key, value in values.items()},
    )


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def resolve(
    spec: IntegrationSpec,
    policies: Sequence[Named],
    channels: Sequence[Named],
    key_hashes: Sequence[ApiKeyHash],
    channel_secrets: Mapping[str, ChannelSecrets] | None = None,
    *,
    source: IntegrationSource | None = None,
) -> Resolution:
    chosen_policies = selected(spec.policy_selector, policies)
    rules: dict[str, tuple[str, PolicyRule]] = {}
    for policy in chosen_policies:
        policy_spec: PolicySpec = policy.spec
        for rule in policy_spec.rules:
            if rule.id in rules and rules[rule.id][0] != policy.name:
                raise ResolutionError(
                    "DuplicateRuleId",
                    f"rule id {rule.id!r} is defined by Policies {rules[rule.id][0]!r} and "
                    f"{policy.name!r}; alerts are identified by rule id, so it must be unique",
                )
            rules[rule.id] = (policy.name, policy_rule(rule))

    chosen_channels = selected(spec.notification_channel_selector, channels)
    try:
        resolved_channels = [
            _channel(channel, (channel_secrets or {}).get(channel.name))
            for channel in chosen_channels
        ]
    except ValidationError as error:
        # Never echo the value: it came from a Secret (a URL with credentials, say).
        fields = ", ".join(".".join(map(str, e["loc"])) for e in error.errors())
        raise ResolutionError(
            "InvalidChannelSecret", f"a NotificationChannel's Secret value is invalid: {fields}"
        ) from None
    config = IntegrationConfig(
        display_name=spec.display_name,
        # Where the config came from: the dashboard authorises Kubernetes users on it.
        source=source,
        repository=spec.repository,
        tracked_branches=list(spec.tracked_branches),
        collection=Collection(ci_context=spec.collection.ci_context),
        api_keys=list(key_hashes),
        policies=[rule for _, rule in rules.values()],
        channels=resolved_channels,
        expect_reports_every=spec.expect_reports_every,
    )
    return Resolution(
        config=config,
        policies=[p.name for p in chosen_policies],
        channels=[c.name for c in chosen_channels],
    )


def _channel(channel: Named, secrets: ChannelSecrets | None) -> AnyChannel:
    spec: NotificationChannelSpec = channel.spec
    common: dict[str, Any] = {
        "name": channel.name,
        "min_severity": Severity(spec.min_severity),
        "send_resolved": spec.send_resolved,
        "repeat_interval": spec.repeat_interval,
    }
    if spec.type == "email":
        assert spec.email is not None  # the CRD's rule guarantees it
        return EmailChannel(to=list(spec.email.to), **common)
    if secrets is None:  # _channel_secrets resolves every selected channel first
        raise ResolutionError(
            "ChannelSecretMissing", f"NotificationChannel {channel.name!r}: no Secret resolved"
        )
    values = secrets.values
    if spec.type == "webhook":
        return WebhookChannel(
            type="webhook",
            url=values["url"],
            signing_key=SecretStr(values["signing_key"]),
            **common,
        )
    if spec.type == "slack":
        return SlackChannel(type="slack", url=values["url"], **common)
    if spec.type == "teams":
        return TeamsChannel(type="teams", url=values["url"], **common)
    if spec.type == "pagerduty":
        assert spec.pagerduty is not None
        return PagerDutyChannel(
            type="pagerduty",
            routing_key=SecretStr(values["routing_key"]),
            url=spec.pagerduty.url,
            **common,
        )
    assert spec.alertmanager is not None
    return AlertmanagerChannel(
        type="alertmanager",
        url=values["url"],
        resend_interval=spec.alertmanager.resend_interval,
        **common,
    )
