"""Building blocks for strict wire models.

Every body Clef Pro accepts is camelCase JSON with a closed set of fields: an
unknown field is refused rather than silently kept, because the security model
is enforced at the door. Strings are bounded and screened; numbers and booleans
are never coerced from strings.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel

from clef_pro.domain.scope import NAME_PATTERN
from clef_pro.domain.screening import find_secret_shape


class WireModel(BaseModel):
    """Closed, camelCase, immutable. Accepts the camelCase names only."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        frozen=True,
        strict=False,
    )


def _screened(value: str) -> str:
    kind = find_secret_shape(value)
    if kind is not None:
        # Name the kind of data, never the data: the message ends up in HTTP
        # responses and logs.
        raise ValueError(f"looks like it contains {kind}, which Clef Pro never stores")
    return value


Text200 = Annotated[
    str, Field(strict=True, min_length=1, max_length=200), AfterValidator(_screened)
]
Text64 = Annotated[str, Field(strict=True, min_length=1, max_length=64), AfterValidator(_screened)]
Description = Annotated[str, Field(strict=True, max_length=500), AfterValidator(_screened)]
Message = Annotated[str, Field(strict=True, max_length=1000), AfterValidator(_screened)]
Name = Annotated[str, Field(strict=True, pattern=NAME_PATTERN), AfterValidator(_screened)]
RuleId = Annotated[
    str,
    Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"),
    AfterValidator(_screened),
]
Count = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
Flag = StrictBool

#: Largest number of reports in one batch (the contract's limit).
MAX_BATCH_REPORTS: Final = 500
