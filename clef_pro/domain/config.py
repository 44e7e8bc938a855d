"""An integration's resolved configuration: what the operator sends and the service keeps.

The operator resolves an Integration resource, the Policies and the
NotificationChannels it selects into this one document and ``PUT``s it; the
service validates it with the same model. Sharing the model is what keeps the
two sides from drifting apart.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    FieldSerializationInfo,
    SecretStr,
    SerializerFunctionWrapHandler,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from clef_pro.domain.apikeys import SHA256_HEX_PATTERN
from clef_pro.domain.durations import DURATION_PATTERN, parse_duration
from clef_pro.domain.screening import find_control_character
from clef_pro.domain.severity import Severity
from clef_pro.domain.wire import NoControls, RuleId, Text200, WireModel, refuse_controls

INTEGRATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

BranchName = Annotated[StrictStr, NoControls]
ObjectName = Annotated[str, Field(strict=True, max_length=63, pattern=OBJECT_NAME_PATTERN)]
#: JSON has no NaN or Infinity (Python's parser takes them, PostgreSQL refuses
#: them), and a policy parameter is handed back to the CLI as JSON.
ParamValue = StrictStr | StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)] | StrictBool


class ConfigModel(WireModel):
    """Config documents are also built in Python (by the operator and the demo),
    so they accept field names as well as their camelCase aliases."""

    model_config = ConfigDict(validate_by_name=True)


class Collection(ConfigModel):
    ci_context: StrictBool = False


class ApiKeyHash(ConfigModel):
    """An API key the service accepts, by its hash: the key itself never leaves
    whoever minted it (the operator's Secret, or ``clef-pro keys create``)."""

    name: ObjectName
    sha256: Annotated[
        str,
        Field(
            strict=True,
            pattern=SHA256_HEX_PATTERN,
            description=(
                "Lower-case hex SHA-256 of an API key minted by Clef Pro: `clefpro_` + 32 "
                "random base62 characters + a 6-character checksum (the operator keeps keys "
                "in each Integration's Secret; without Kubernetes, `clef-pro keys create` "
                "mints one). A hash cannot show whether its key was well formed: the hash "
                "of any other string is stored, but no key ever matches it (CI gets 401)."
            ),
        ),
    ]
    #: Set on a rotated-out key: it keeps working until then, and not after.
    expires_at: AwareDatetime | None = None

    @model_serializer(mode="wrap")
    def _without_empty_expiry(self, handler: SerializerFunctionWrapHandler) -> Any:
        # A key without an end is written as it always was: name and hash.
        data = handler(self)
        if isinstance(data, dict) and self.expires_at is None:
            data.pop("expiresAt", None)
            data.pop("expires_at", None)
        return data


class PolicyRule(ConfigModel):
    rule_id: RuleId
    rule_name: Text200
    type: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
    severity: Severity
    params: Annotated[dict[str, ParamValue], Field(max_length=32)] = Field(default_factory=dict)

    @field_validator("params", mode="before")
    @classmethod
    def _storable_params(cls, value: Any) -> Any:
        # Checked before the union so that the error names ``params``, not a
        # union member, and never repeats a parameter's name (which is input).
        if not isinstance(value, dict):
            return value
        for name, param in value.items():
            if isinstance(name, str) and find_control_character(name) is not None:
                raise ValueError("has a parameter name with a control character")
            if isinstance(param, str) and find_control_character(param) is not None:
                raise ValueError("has a parameter value with a control character")
            if isinstance(param, float) and not math.isfinite(param):
                raise ValueError("has a parameter that is not a finite number (NaN, Infinity)")
        return value


def _http_url(value: str) -> str:
    refuse_controls(value)
    parts = urlsplit(value)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise ValueError("must be an https:// URL")
    return value


#: Pass as serialisation context to write secrets out (only to storage, never to a reader).
REVEAL_SECRETS: Final = "reveal_secrets"

#: PagerDuty's Events API v2 endpoint (``https://events.eu.pagerduty.com/v2/enqueue``
#: for accounts in the EU service region).
PAGERDUTY_EVENTS_URL: Final = "https://events.pagerduty.com/v2/enqueue"


def _duration(value: str) -> str:
    if parse_duration(value) <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    str, Field(strict=True, max_length=32, pattern=DURATION_PATTERN), AfterValidator(_duration)
]
#: A URL that may carry credentials: kept for delivery, never shown or logged.
SecretUrl = Annotated[
    str, Field(strict=True, max_length=2048, repr=False), AfterValidator(_http_url)
]


def _no_control_in_secret(value: SecretStr) -> SecretStr:
    if find_control_character(value.get_secret_value()) is not None:
        raise ValueError("contains a control character, which is not allowed here")
    return value


def _reveal(value: SecretStr, info: FieldSerializationInfo) -> str | SecretStr:
    context = info.context
    if isinstance(context, dict) and context.get(REVEAL_SECRETS):
        return value.get_secret_value()
    return value if info.mode == "python" else str(value)


class ChannelBase(ConfigModel):
    """What every channel says about which alerts it wants, and how often."""

    #: Channels that mirror each alert's state at the destination (an incident
    #: that is triggered, acknowledged and resolved) rather than tell people of
    #: reports: they hear of acknowledgements and always of resolutions.
    mirrors_alert_state: ClassVar[bool] = False
    #: Destinations that keep their own copy of every open alert (Alertmanager):
    #: refreshed by every report, acknowledged or not.
    mirrors_open_alerts: ClassVar[bool] = False

    name: ObjectName
    min_severity: Severity = Severity.WARNING
    send_resolved: StrictBool = False
    #: Re-notify a recurring, unacknowledged alert at most this often (absent:
    #: on every report, as the spec says). Alertmanager's ``repeat_interval``.
    repeat_interval: Duration | None = None

    @property
    def repeat_every(self) -> timedelta | None:
        return parse_duration(self.repeat_interval) if self.repeat_interval else None


class EmailChannel(ChannelBase):
    type: Literal["email"] = "email"
    to: Annotated[list[EmailStr], Field(min_length=1, max_length=50)]


class WebhookChannel(ChannelBase):
    """A generic HTTPS webhook: a signed JSON body per (report, channel).

    The operator resolves the URL and the signing key from Kubernetes Secrets
    (URLs often embed credentials) and sends them here; the service keeps them
    for delivery only. Neither is ever logged or shown by a read API: the URL
    is left out of ``repr`` and the key is a ``SecretStr`` that serialises
    masked unless the caller asks for :data:`REVEAL_SECRETS`.
    """

    type: Literal["webhook"]
    url: SecretUrl
    signing_key: Annotated[
        SecretStr, Field(min_length=16, max_length=1024), AfterValidator(_no_control_in_secret)
    ]

    @field_serializer("signing_key", when_used="always")
    def _serialize_key(self, value: SecretStr, info: FieldSerializationInfo) -> str | SecretStr:
        return _reveal(value, info)


class SlackChannel(ChannelBase):
    """A Slack incoming webhook (its URL is the credential): Block Kit messages."""

    type: Literal["slack"]
    url: SecretUrl


class TeamsChannel(ChannelBase):
    """A Microsoft Teams workflow (or incoming) webhook: Adaptive Card messages."""

    type: Literal["teams"]
    url: SecretUrl


def _routing_key(value: SecretStr) -> SecretStr:
    if not re.fullmatch(r"[A-Za-z0-9_+/=-]+", value.get_secret_value()):
        raise ValueError("must be a PagerDuty integration key (letters and digits)")
    return value


class PagerDutyChannel(ChannelBase):
    """PagerDuty Events API v2: one PagerDuty alert per Clef Pro alert."""

    mirrors_alert_state: ClassVar[bool] = True

    type: Literal["pagerduty"]
    #: The integration (routing) key of a PagerDuty service's Events API v2 integration.
    routing_key: Annotated[
        SecretStr, Field(min_length=1, max_length=128), AfterValidator(_routing_key)
    ]
    url: Annotated[str, Field(strict=True, max_length=2048), AfterValidator(_http_url)] = (
        PAGERDUTY_EVENTS_URL
    )

    @field_serializer("routing_key", when_used="always")
    def _serialize_key(self, value: SecretStr, info: FieldSerializationInfo) -> str | SecretStr:
        return _reveal(value, info)


class AlertmanagerChannel(ChannelBase):
    """Prometheus Alertmanager (API v2): open alerts pushed as Prometheus-style alerts.

    ``url`` is Alertmanager's base URL (``http://alertmanager.monitoring.svc:9093``,
    with ``user:password@`` for basic auth). Every open alert is pushed again at
    least every ``resend_interval`` with an ``endsAt`` four intervals ahead, as
    Prometheus does, so an alert stays active exactly while it is open here and
    ends by itself if Clef Pro goes away. Alertmanager repeats notifications by
    its own ``repeat_interval``, so the channel has none.
    """

    mirrors_alert_state: ClassVar[bool] = True
    mirrors_open_alerts: ClassVar[bool] = True

    type: Literal["alertmanager"]
    url: SecretUrl
    resend_interval: Duration = "1h"

    @model_validator(mode="after")
    def _no_repeat_interval(self) -> Self:
        if self.repeat_interval is not None:
            raise ValueError(
                "an alertmanager channel has no repeatInterval: Alertmanager's own "
                "repeat_interval decides how often people are notified"
            )
        return self

    @property
    def resend_every(self) -> timedelta:
        return parse_duration(self.resend_interval)


AnyChannel = (
    EmailChannel
    | WebhookChannel
    | SlackChannel
    | TeamsChannel
    | PagerDutyChannel
    | AlertmanagerChannel
)

#: Channel types the config accepts; a body without ``type`` is an email channel.
CHANNEL_TYPES: Final = ("email", "webhook", "slack", "teams", "pagerduty", "alertmanager")


def _channel_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type", "email")
        return kind if isinstance(kind, str) else None
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


Channel = Annotated[
    Annotated[EmailChannel, Tag("email")]
    | Annotated[WebhookChannel, Tag("webhook")]
    | Annotated[SlackChannel, Tag("slack")]
    | Annotated[TeamsChannel, Tag("teams")]
    | Annotated[PagerDutyChannel, Tag("pagerduty")]
    | Annotated[AlertmanagerChannel, Tag("alertmanager")],
    Discriminator(
        _channel_type,
        custom_error_type="channel_type",
        custom_error_message=f"type must be one of: {', '.join(CHANNEL_TYPES)}",
    ),
]


#: A Kubernetes object name (DNS-1123 subdomain): what an Integration may be called.
UID_PATTERN = r"^[0-9A-Za-z-]{1,64}$"
SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class IntegrationSource(ConfigModel):
    """The Integration resource a config was resolved from. The dashboard's
    Kubernetes sign-in authorises people per integration with RBAC on it, and
    the service lets no other resource (nor one re-created under the same
    name, told apart by its ``uid``) take its integration id over."""

    namespace: ObjectName
    name: Annotated[str, Field(strict=True, max_length=253, pattern=SUBDOMAIN_PATTERN)]
    uid: Annotated[str, Field(strict=True, max_length=64, pattern=UID_PATTERN)] | None = None

    @model_serializer(mode="wrap")
    def _without_unknown_uid(self, serialize: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Documents from before uids were kept stay byte-for-byte the same.
        document: dict[str, Any] = serialize(self)
        if document.get("uid") is None:
            document.pop("uid", None)
        return document

    def describe(self) -> str:
        return f"the Integration {self.name} in namespace {self.namespace}"


class IntegrationConfig(ConfigModel):
    display_name: Annotated[str, Field(strict=True, min_length=1, max_length=200), NoControls]
    #: Set by the operator; absent for integrations configured otherwise, which
    #: only admin-token and proxy users of the dashboard then see.
    source: IntegrationSource | None = None
    repository: Annotated[str, Field(strict=True, max_length=500), NoControls] | None = None
    #: Empty means every branch is tracked.
    tracked_branches: Annotated[list[Annotated[StrictStr, NoControls]], Field(max_length=100)] = (
        Field(default_factory=list)
    )
    collection: Collection = Field(default_factory=Collection)
    api_keys: Annotated[list[ApiKeyHash], Field(max_length=20)] = Field(default_factory=list)
    policies: Annotated[list[PolicyRule], Field(max_length=500)] = Field(default_factory=list)
    channels: Annotated[list[Channel], Field(max_length=50)] = Field(default_factory=list)
    #: When no report on a tracked branch arrives for this long, the
    #: integration-level alert ``clef-pro/silent`` opens (absent: never).
    expect_reports_every: Duration | None = None

    @model_validator(mode="after")
    def _channel_names_are_unique(self) -> Self:
        names = [channel.name for channel in self.channels]
        if len(set(names)) != len(names):
            # One message per (report, channel name): a repeated name would lose one.
            raise ValueError("channel names must be unique within an integration")
        return self

    def tracks(self, branch: str) -> bool:
        """Whether reports on ``branch`` drive alerts. An unknown branch (``""``,
        a detached HEAD) counts as tracked: ignoring it would silently stop
        alerting for every CI system that checks out a detached HEAD."""
        return not self.tracked_branches or branch in self.tracked_branches or branch == ""

    @property
    def tracked_branch_names(self) -> list[str] | None:
        """The branch names whose reports count (the unknown one included),
        or ``None`` when every branch does."""
        return [*self.tracked_branches, ""] if self.tracked_branches else None

    def channel(self, name: str) -> AnyChannel | None:
        return next((channel for channel in self.channels if channel.name == name), None)

    @property
    def silent_after(self) -> timedelta | None:
        return parse_duration(self.expect_reports_every) if self.expect_reports_every else None

    def destinations(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every URL a channel sends to, with its location in the document."""
        return [
            (("channels", index, "url"), channel.url)
            for index, channel in enumerate(self.channels)
            if not isinstance(channel, EmailChannel)
        ]

    def document(self) -> dict[str, Any]:
        """The whole config as JSON with its secrets (signing and routing keys): what
        the operator sends and the service keeps. Plain ``model_dump`` masks them,
        and a masked key is refused by validation, so a mistake fails loudly."""
        return self.model_dump(mode="json", by_alias=True, context={REVEAL_SECRETS: True})
