"""An integration's resolved configuration: what the operator sends and the service keeps.

The operator resolves an Integration resource, the Policies and the
NotificationChannels it selects into this one document and ``PUT``s it; the
service validates it with the same model. Sharing the model is what keeps the
two sides from drifting apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, EmailStr, Field, StrictBool, StrictFloat, StrictInt, StrictStr

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


class EmailChannel(ConfigModel):
    name: ObjectName
    type: Literal["email"] = "email"
    to: Annotated[list[EmailStr], Field(min_length=1, max_length=50)]
    min_severity: Severity = Severity.WARNING
    send_resolved: StrictBool = False


Channel = EmailChannel


class IntegrationConfig(ConfigModel):
    display_name: Annotated[str, Field(strict=True, min_length=1, max_length=200)]
    repository: Annotated[str, Field(strict=True, max_length=500)] | None = None
    #: Empty means every branch is tracked.
    tracked_branches: Annotated[list[StrictStr], Field(max_length=100)] = Field(
        default_factory=list
    )
    collection: Collection = Field(default_factory=Collection)
    api_keys: Annotated[list[ApiKeyHash], Field(max_length=20)] = Field(default_factory=list)
    policies: Annotated[list[PolicyRule], Field(max_length=500)] = Field(default_factory=list)
    channels: Annotated[list[Channel], Field(max_length=50)] = Field(default_factory=list)

    def tracks(self, branch: str) -> bool:
        return not self.tracked_branches or branch in self.tracked_branches
