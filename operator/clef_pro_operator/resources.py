"""The custom resources, defined once.

These models are the single definition of ``Integration``, ``Policy`` and
``NotificationChannel`` (group ``pro.clef.sh``, version ``v1alpha1``): the CRD
schemas in ``crds/`` and the reference in ``docs/crds.md`` are generated from
them (:mod:`clef_pro_operator.crdgen`), and the operator parses the objects it
watches with them. A field added here reaches the API server's validation, the
operator and the docs together, or a test fails.

Validation that the API server can do (enums, patterns, bounds, CEL rules) is
declared here so that ``kubectl apply`` refuses bad input with a clear message
before the operator ever sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic.alias_generators import to_camel

from clef_pro.domain.config import INTEGRATION_ID_PATTERN, PAGERDUTY_EVENTS_URL
from clef_pro.domain.durations import DURATION_PATTERN

GROUP = "pro.clef.sh"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "clef"

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DURATION = DURATION_PATTERN
SeverityName = Literal["info", "warning", "critical"]


def cel(rule: str, message: str, **extra: JsonValue) -> dict[str, JsonValue]:
    """One ``x-kubernetes-validations`` entry."""
    return {"rule": rule, "message": message, **extra}


class K8sModel(BaseModel):
    """camelCase like every Kubernetes API; unknown fields are the API server's to refuse."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )


# ------------------------------------------------------------------ shared parts


class LabelSelectorRequirement(K8sModel):
    key: Annotated[str, Field(min_length=1, max_length=317, description="The label key.")]
    operator: Annotated[
        Literal["In", "NotIn", "Exists", "DoesNotExist"],
        Field(description="How the key relates to the values."),
    ]
    values: Annotated[
        list[Annotated[str, Field(max_length=63)]],
        Field(
            max_length=64, description="Values for In and NotIn; empty for Exists and DoesNotExist."
        ),
    ] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


class LabelSelector(K8sModel):
    """A standard Kubernetes label selector. ``{}`` selects every object of the
    namespace; an absent selector selects none."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.matchExpressions) || self.matchExpressions.all(e, "
                    "(e.operator in ['In', 'NotIn']) == (size(e.values) > 0))",
                    "matchExpressions: In and NotIn need values; Exists and DoesNotExist take none",
                )
            ]
        }
    )

    match_labels: Annotated[
        dict[str, Annotated[str, Field(max_length=63)]],
        Field(max_length=64, description="Labels that must all be present with these values."),
    ] = Field(default_factory=dict)
    match_expressions: Annotated[
        list[LabelSelectorRequirement],
        Field(max_length=32, description="Requirements that must all hold."),
    ] = Field(default_factory=list)

    def matches(self, labels: dict[str, str]) -> bool:
        return all(labels.get(key) == value for key, value in self.match_labels.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions
        )


class Condition(K8sModel):
    """A standard ``metav1.Condition``."""

    type: Annotated[str, Field(max_length=316, pattern=r"^[A-Za-z]([A-Za-z0-9_.-/]*[A-Za-z0-9])?$")]
    status: Literal["True", "False", "Unknown"]
    reason: Annotated[
        str, Field(max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    ]
    message: Annotated[str, Field(max_length=32768)] = ""
    last_transition_time: Annotated[str, Field(json_schema_extra={"format": "date-time"})]
    observed_generation: Annotated[int, Field(ge=0)] | None = None


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=8,
        description=(
            "Standard conditions; `Ready` says whether it is in effect, and why not. An "
            "Integration whose integrationId belongs to another resource also shows `Conflict`."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class SecretKeyReference(K8sModel):
    """A key of a Secret in the resource's own namespace."""

    name: Annotated[str, Field(min_length=1, max_length=253, description="The Secret's name.")]
    key: Annotated[
        str, Field(min_length=1, max_length=253, description="The key within the Secret.")
    ]


# ------------------------------------------------------------------ Integration


class ApiKeySpec(K8sModel):
    name: Annotated[
        str,
        Field(
            max_length=63,
            pattern=DNS_LABEL,
            description="The key's name; also its entry in the Secret (e.g. `ci`).",
        ),
    ]
    rotate: Annotated[
        str,
        Field(
            max_length=63,
            description=(
                "Change this value (any string, a date reads well) to rotate the key: a new key "
                "is written to the Secret and the old one keeps working for "
                "`keyRotation.gracePeriod`, then it is revoked."
            ),
        ),
    ] = ""


class KeyRotation(K8sModel):
    grace_period: Annotated[
        str,
        Field(
            pattern=DURATION,
            max_length=32,
            description="How long a rotated-out key keeps working, as a duration (`24h`, `90m`).",
        ),
    ] = "24h"


class CollectionSpec(K8sModel):
    ci_context: Annotated[
        bool,
        Field(
            description="Let the CLI send, and Clef Pro keep, CI provider, pipeline URL, trigger."
        ),
    ] = False


class IntegrationSpec(K8sModel):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.integrationId) == has(oldSelf.integrationId)",
                    "integrationId cannot be added or removed once the Integration exists",
                ),
                cel(
                    "has(self.secretName) == has(oldSelf.secretName)",
                    "secretName cannot be added or removed once the Integration exists",
                ),
            ]
        }
    )

    display_name: Annotated[
        str, Field(min_length=1, max_length=200, description="How people see the integration.")
    ]
    repository: (
        Annotated[
            str,
            Field(max_length=500, description="Repository URL or organisation name, for people."),
        ]
        | None
    ) = None
    integration_id: (
        Annotated[
            str,
            Field(
                max_length=128,
                pattern=INTEGRATION_ID_PATTERN,
                description=(
                    "The stable id users put in `clef.yaml` (`cloud.integrationId`). Defaults to "
                    "`<namespace>.<name>`. Immutable."
                ),
                json_schema_extra={
                    "x-kubernetes-validations": [
                        cel("self == oldSelf", "integrationId is immutable")
                    ]
                },
            ),
        ]
        | None
    ) = None
    tracked_branches: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]],
        Field(
            max_length=100,
            description=(
                "Branches whose newest report drives alerts and the matrix. Empty: every branch."
            ),
            json_schema_extra={"x-kubernetes-list-type": "set"},
        ),
    ] = Field(default_factory=list)
    collection: Annotated[
        CollectionSpec, Field(description="What optional metadata the CLI sends.")
    ] = Field(default_factory=CollectionSpec)
    api_keys: Annotated[
        list[ApiKeySpec],
        Field(
            min_length=1,
            max_length=10,
            description="Named API keys for CI jobs; each is one entry of the Secret.",
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
    ] = Field(default_factory=lambda: [ApiKeySpec(name="ci")])
    key_rotation: Annotated[KeyRotation, Field(description="How key rotation behaves.")] = Field(
        default_factory=KeyRotation
    )
    secret_name: (
        Annotated[
            str,
            Field(
                max_length=253,
                pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
                description="Secret of the API keys. Defaults to `<name>-clef-pro`. Immutable.",
                json_schema_extra={
                    "x-kubernetes-validations": [cel("self == oldSelf", "secretName is immutable")]
                },
            ),
        ]
        | None
    ) = None
    policy_selector: Annotated[
        LabelSelector | None,
        Field(description="Policies of this namespace that apply. `{}` selects all, absent none."),
    ] = None
    notification_channel_selector: Annotated[
        LabelSelector | None,
        Field(
            description=(
                "NotificationChannels of this namespace that are notified. `{}` selects all; "
                "absent selects none."
            )
        ),
    ] = None
    expect_reports_every: (
        Annotated[
            str,
            Field(
                max_length=32,
                pattern=DURATION,
                description=(
                    "When no report on a tracked branch arrives for this long (`24h`), the "
                    "integration-level alert `clef-pro/silent` opens and notifies the channels; "
                    "the next report resolves it. Absent: never."
                ),
            ),
        ]
        | None
    ) = None


class OpenAlertCounts(K8sModel):
    critical: int = 0
    warning: int = 0
    info: int = 0
    total: int = 0


class ConnectionStatus(K8sModel):
    """What to paste into a CI job, for each generation of the Clef CLI."""

    telemetry_url: Annotated[
        str,
        Field(
            description=(
                "`CLEF_TELEMETRY_URL` for the Clef CLI 0.1.9 and later "
                "(`clef report|lint|drift --push`)."
            )
        ),
    ] = ""
    telemetry_headers: Annotated[
        str,
        Field(
            description=(
                "`CLEF_TELEMETRY_HEADERS` for the Clef CLI 0.1.9 and later, naming where the "
                "key is (the CLI never reads `CLEF_TELEMETRY_TOKEN`)."
            )
        ),
    ] = ""
    api_url: Annotated[
        str,
        Field(
            description=(
                "`CLEF_API_URL` for the Clef CLI up to 0.1.5, with `cloud.integrationId` in "
                "`clef.yaml` and the key as `CLEF_API_TOKEN`."
            )
        ),
    ] = ""


class IntegrationStatus(K8sModel):
    observed_generation: int | None = None
    integration_id: Annotated[str, Field(description="The id to put in `clef.yaml`.")] = ""
    secret_name: Annotated[str, Field(description="The Secret holding the API keys.")] = ""
    conditions: Conditions = Field(default_factory=list)
    policies: Annotated[int, Field(description="Rules in effect, from the selected Policies.")] = 0
    notification_channels: Annotated[int, Field(description="Selected NotificationChannels.")] = 0
    last_commit: Annotated[str, Field(description="Short sha of the newest reported commit.")] = ""
    last_report_time: Annotated[
        str,
        Field(
            description="When that report was received.", json_schema_extra={"format": "date-time"}
        ),
    ] = ""
    open_alerts: Annotated[
        OpenAlertCounts, Field(description="Open alerts by severity (counts only).")
    ] = Field(default_factory=OpenAlertCounts)
    connection: Annotated[
        ConnectionStatus | None,
        Field(description="How to point the Clef CLI of a CI job at this integration."),
    ] = None


# ------------------------------------------------------------------ Policy


class MissingKeysRule(K8sModel):
    """Every key a file references is present. No parameters."""


class RotationMaxAgeRule(K8sModel):
    max_age_days: Annotated[
        int, Field(ge=1, le=3650, description="Keys older than this many days fail the rule.")
    ]


class MinRecipientsRule(K8sModel):
    min: Annotated[
        int, Field(ge=1, le=100, description="Fewest recipients an encrypted file may have.")
    ]


#: Rule type -> the member field that carries its parameters.
RULE_MEMBERS: dict[str, str] = {
    "missingKeys": "missingKeys",
    "rotationMaxAge": "rotationMaxAge",
    "minRecipients": "minRecipients",
}


def _exactly_the_member_of_type() -> list[JsonValue]:
    return [
        cel(
            f"(self.type == '{rule_type}') == has(self.{member})",
            f"a {rule_type} rule sets `{member}` and no other rule type does",
        )
        for rule_type, member in RULE_MEMBERS.items()
    ]


class PolicyRuleSpec(K8sModel):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": _exactly_the_member_of_type()}
    )

    id: Annotated[
        str,
        Field(
            max_length=63,
            pattern=r"^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$",
            description="The rule's id, as alerts and the CLI name it (e.g. `rotation_max_age`).",
        ),
    ]
    display_name: Annotated[
        str, Field(min_length=1, max_length=200, description="How people see the rule.")
    ]
    severity: Annotated[SeverityName, Field(description="How bad a failure of this rule is.")] = (
        "warning"
    )
    type: Annotated[
        Literal["missingKeys", "rotationMaxAge", "minRecipients"],
        Field(description="What the rule checks; its parameters go in the field of the same name."),
    ]
    missing_keys: MissingKeysRule | None = None
    rotation_max_age: RotationMaxAgeRule | None = None
    min_recipients: MinRecipientsRule | None = None


class PolicySpec(K8sModel):
    rules: Annotated[
        list[PolicyRuleSpec],
        Field(
            min_length=1,
            max_length=100,
            description="The rules; ids are unique within the Policy.",
            json_schema_extra={
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["id"],
            },
        ),
    ]


class PolicyStatus(K8sModel):
    observed_generation: int | None = None
    conditions: Conditions = Field(default_factory=list)
    rules: Annotated[int, Field(description="Rules in this Policy.")] = 0
    integrations: Annotated[int, Field(description="Integrations that select this Policy.")] = 0


# ------------------------------------------------------------------ NotificationChannel


class EmailTarget(K8sModel):
    to: Annotated[
        list[Annotated[str, Field(max_length=254, json_schema_extra={"format": "email"})]],
        Field(min_length=1, max_length=50, description="Recipient addresses."),
    ]


class WebhookTarget(K8sModel):
    url_secret_ref: Annotated[
        SecretKeyReference,
        Field(description="Secret key holding the HTTPS URL (URLs often embed credentials)."),
    ]
    signing_key_secret_ref: Annotated[
        SecretKeyReference,
        Field(description="Secret key holding the HMAC key that signs every request."),
    ]


class SlackTarget(K8sModel):
    url_secret_ref: Annotated[
        SecretKeyReference,
        Field(
            description=(
                "Secret key holding the Slack incoming webhook URL "
                "(`https://hooks.slack.com/services/...`; the URL is the credential)."
            )
        ),
    ]


class TeamsTarget(K8sModel):
    url_secret_ref: Annotated[
        SecretKeyReference,
        Field(
            description=(
                "Secret key holding the Microsoft Teams workflow (or incoming) webhook URL."
            )
        ),
    ]


class PagerDutyTarget(K8sModel):
    routing_key_secret_ref: Annotated[
        SecretKeyReference,
        Field(
            description=(
                "Secret key holding the integration (routing) key of a PagerDuty service's "
                "Events API v2 integration."
            )
        ),
    ]
    url: Annotated[
        str,
        Field(
            max_length=2048,
            pattern=r"^https://[^\s]+$",
            description=(
                "Events API v2 endpoint; `https://events.eu.pagerduty.com/v2/enqueue` for the "
                "EU service region, or a PagerDuty-compatible receiver."
            ),
        ),
    ] = PAGERDUTY_EVENTS_URL


class AlertmanagerTarget(K8sModel):
    url_secret_ref: Annotated[
        SecretKeyReference,
        Field(
            description=(
                "Secret key holding Alertmanager's base URL "
                "(`http://alertmanager.monitoring.svc:9093`, `user:password@` for basic auth). "
                "In-cluster addresses must be allowed (the chart's "
                "`notifications.allowedNetworks`)."
            )
        ),
    ]
    resend_interval: Annotated[
        str,
        Field(
            max_length=32,
            pattern=DURATION,
            description=(
                "Open alerts are pushed again this often, each valid for four intervals, so "
                "they stay active while open and end if Clef Pro goes away."
            ),
        ),
    ] = "1h"


#: Channel type -> the member field that carries its target.
CHANNEL_MEMBERS: dict[str, str] = {
    "email": "email",
    "webhook": "webhook",
    "slack": "slack",
    "teams": "teams",
    "pagerduty": "pagerduty",
    "alertmanager": "alertmanager",
}


def _exactly_the_target_of_type() -> list[JsonValue]:
    rules: list[JsonValue] = [
        cel(
            f"(self.type == '{channel_type}') == has(self.{member})",
            f"a {channel_type} channel sets `{member}`, and only it",
        )
        for channel_type, member in CHANNEL_MEMBERS.items()
    ]
    rules.append(
        cel(
            "self.type != 'alertmanager' || !has(self.repeatInterval)",
            "an alertmanager channel has no repeatInterval: Alertmanager's own "
            "repeat_interval decides how often people are notified",
        )
    )
    return rules


class NotificationChannelSpec(K8sModel):
    model_config = ConfigDict(
        json_schema_extra={"x-kubernetes-validations": _exactly_the_target_of_type()}
    )

    type: Annotated[
        Literal["email", "webhook", "slack", "teams", "pagerduty", "alertmanager"],
        Field(description="The backend that delivers; its settings go in the field of that name."),
    ]
    email: EmailTarget | None = None
    webhook: WebhookTarget | None = None
    slack: SlackTarget | None = None
    teams: TeamsTarget | None = None
    pagerduty: PagerDutyTarget | None = None
    alertmanager: AlertmanagerTarget | None = None
    min_severity: Annotated[
        SeverityName,
        Field(
            description="Least severe alert this channel receives (`critical` never gets warnings)."
        ),
    ] = "warning"
    send_resolved: Annotated[
        bool,
        Field(
            description=(
                "Also notify when an alert resolves. PagerDuty and Alertmanager always hear of "
                "the resolution of an alert they were told of."
            )
        ),
    ] = False
    repeat_interval: (
        Annotated[
            str,
            Field(
                max_length=32,
                pattern=DURATION,
                description=(
                    "Re-notify a recurring, unacknowledged alert at most this often (`4h`). "
                    "Absent: on every report. Alertmanager's `repeat_interval` semantics."
                ),
            ),
        ]
        | None
    ) = None


class NotificationChannelStatus(K8sModel):
    observed_generation: int | None = None
    conditions: Conditions = Field(default_factory=list)
    integrations: Annotated[int, Field(description="Integrations that select this channel.")] = 0


# ------------------------------------------------------------------ kinds


@dataclass(frozen=True, slots=True)
class Kind:
    """What the CRD generator needs to know about one kind beyond its schema."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[K8sModel]
    status: type[K8sModel]
    printer_columns: tuple[dict[str, str], ...]
    description: str
    root_rules: tuple[dict[str, JsonValue], ...] = ()


READY_COLUMN = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

INTEGRATION = Kind(
    kind="Integration",
    plural="integrations",
    short_names=("cpi", "clefint"),
    spec=IntegrationSpec,
    status=IntegrationStatus,
    description=(
        "A connection point between CI pipelines and Clef Pro: API keys, collection config, "
        "and the Policies and NotificationChannels it selects."
    ),
    printer_columns=(
        READY_COLUMN,
        {"name": "Integration ID", "type": "string", "jsonPath": ".status.integrationId"},
        {"name": "Last Commit", "type": "string", "jsonPath": ".status.lastCommit"},
        {"name": "Open Alerts", "type": "integer", "jsonPath": ".status.openAlerts.total"},
        AGE_COLUMN,
    ),
    root_rules=(
        cel(
            "size(self.metadata.name) <= 63",
            "an Integration's name is at most 63 characters (it is part of its id)",
        ),
    ),
)

POLICY = Kind(
    kind="Policy",
    plural="policies",
    short_names=("cpp", "clefpolicy"),
    spec=PolicySpec,
    status=PolicyStatus,
    description="Policy rules the Clef CLI evaluates for the Integrations that select them.",
    printer_columns=(
        READY_COLUMN,
        {"name": "Rules", "type": "integer", "jsonPath": ".status.rules"},
        {"name": "Integrations", "type": "integer", "jsonPath": ".status.integrations"},
        AGE_COLUMN,
    ),
)

NOTIFICATION_CHANNEL = Kind(
    kind="NotificationChannel",
    plural="notificationchannels",
    short_names=("cpnc", "clefchannel"),
    spec=NotificationChannelSpec,
    status=NotificationChannelStatus,
    description="Where alerts of the Integrations selecting it go, and from which severity.",
    printer_columns=(
        READY_COLUMN,
        {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
        {"name": "Min Severity", "type": "string", "jsonPath": ".spec.minSeverity"},
        {"name": "Integrations", "type": "integer", "jsonPath": ".status.integrations"},
        AGE_COLUMN,
    ),
)

KINDS: tuple[Kind, ...] = (INTEGRATION, POLICY, NOTIFICATION_CHANNEL)
