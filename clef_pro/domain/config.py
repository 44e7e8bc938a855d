"""An integration's resolved configuration: what the operator sends and the service keeps.

The operator resolves an Integration resource, the Policies and the
NotificationChannels it selects into this one document and ``PUT``s it; the
service validates it with the same model. Sharing the model is what keeps the
two sides from drifting apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    FieldSerializationInfo,
    SecretStr,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    field_serializer,
    model_validator,
)

from clef_pro.domain.apikeys import SHA256_HEX_PATTERN
from clef_pro.domain.severity import Severity
from clef_pro.domain.wire import RuleId, Text200, WireModel

INTEGRATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
OBJECT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

ObjectName = Annotated[str, Field(strict=True, max_length=63, pattern=OBJECT_NAME_PATTERN)]
ParamValue = StrictStr | StrictInt | StrictFloat | StrictBool


class ConfigModel(WireModel):
    """Config documents are also built in Python (by the operator and the demo),
    so they accept field names as well as their camelCase aliases."""

    model_config = ConfigDict(validate_by_name=True)


class Collection(ConfigModel):
    ci_context: StrictBool = False


class ApiKeyHash(ConfigModel):
    name: ObjectName
    sha256: Annotated[str, Field(strict=True, pattern=SHA256_HEX_PATTERN)]


class PolicyRule(ConfigModel):
    rule_id: RuleId
    rule_name: Text200
    type: Annotated[str, Field(strict=True, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]
    severity: Severity
    params: Annotated[dict[str, ParamValue], Field(max_length=32)] = Field(default_factory=dict)


def _http_url(value: str) -> str:
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


class EmailChannel(ConfigModel):
    name: ObjectName
    type: Literal["email"] = "email"
    to: Annotated[list[EmailStr], Field(min_length=1, max_length=50)]
    min_severity: Severity = Severity.WARNING
    send_resolved: StrictBool = False


class WebhookChannel(ConfigModel):
    """A generic HTTPS webhook: a signed JSON body per (report, channel).

    The operator resolves the URL and the signing key from Kubernetes Secrets
    (URLs often embed credentials) and sends them here; the service keeps them
    for delivery only. Neither is ever logged or shown by a read API: the URL
    is left out of ``repr`` and the key is a ``SecretStr`` that serialises
    masked unless the caller asks for :data:`REVEAL_SECRETS`.
    """

    name: ObjectName
    type: Literal["webhook"]
    url: Annotated[str, Field(strict=True, max_length=2048, repr=False), AfterValidator(_http_url)]
    signing_key: Annotated[SecretStr, Field(min_length=16, max_length=1024)]
    min_severity: Severity = Severity.WARNING
    send_resolved: StrictBool = False

    @field_serializer("signing_key", when_used="always")
    def _serialize_key(self, value: SecretStr, info: FieldSerializationInfo) -> str | SecretStr:
        context = info.context
        if isinstance(context, dict) and context.get(REVEAL_SECRETS):
            return value.get_secret_value()
        return value if info.mode == "python" else str(value)


#: Channel types the config accepts; a body without ``type`` is an email channel.
CHANNEL_TYPES: Final = ("email", "webhook")


def _channel_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type", "email")
        return kind if isinstance(kind, str) else None
    kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) else None


Channel = Annotated[
    Annotated[EmailChannel, Tag("email")] | Annotated[WebhookChannel, Tag("webhook")],
    Discriminator(
        _channel_type,
        custom_error_type="channel_type",
        custom_error_message="type must be one of: email, webhook",
    ),
]


#: A Kubernetes object name (DNS-1123 subdomain): what an Integration may be called.
SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class IntegrationSource(ConfigModel):
    """The Integration resource a config was resolved from. The dashboard's
    Kubernetes sign-in authorises people per integration with RBAC on it."""

    namespace: ObjectName
    name: Annotated[str, Field(strict=True, max_length=253, pattern=SUBDOMAIN_PATTERN)]


class IntegrationConfig(ConfigModel):
    display_name: Annotated[str, Field(strict=True, min_length=1, max_length=200)]
    #: Set by the operator; absent for integrations configured otherwise, which
    #: only admin-token and proxy users of the dashboard then see.
    source: IntegrationSource | None = None
    repository: Annotated[str, Field(strict=True, max_length=500)] | None = None
    #: Empty means every branch is tracked.
    tracked_branches: Annotated[list[StrictStr], Field(max_length=100)] = Field(
        default_factory=list
    )
    collection: Collection = Field(default_factory=Collection)
    api_keys: Annotated[list[ApiKeyHash], Field(max_length=20)] = Field(default_factory=list)
    policies: Annotated[list[PolicyRule], Field(max_length=500)] = Field(default_factory=list)
    channels: Annotated[list[Channel], Field(max_length=50)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _channel_names_are_unique(self) -> Self:
        names = [channel.name for channel in self.channels]
        if len(set(names)) != len(names):
            # One message per (report, channel name): a repeated name would lose one.
            raise ValueError("channel names must be unique within an integration")
        return self

    def tracks(self, branch: str) -> bool:
        return not self.tracked_branches or branch in self.tracked_branches

    def channel(self, name: str) -> EmailChannel | WebhookChannel | None:
        return next((channel for channel in self.channels if channel.name == name), None)

    def document(self) -> dict[str, Any]:
        """The whole config as JSON with its secrets (webhook signing keys): what
        the operator sends and the service keeps. Plain ``model_dump`` masks them,
        and a masked key is refused by validation, so a mistake fails loudly."""
        return self.model_dump(mode="json", by_alias=True, context={REVEAL_SECRETS: True})
