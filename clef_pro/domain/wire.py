"""Building blocks for strict wire models.

Every body Clef Pro accepts is camelCase JSON with a closed set of fields: an
unknown field is refused rather than silently kept, because the security model
is enforced at the door. Strings are bounded, free of control characters and
screened for secret-shaped data; numbers and booleans are never coerced from
strings.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt
from pydantic.alias_generators import to_camel

from clef_pro.domain.scope import NAME_PATTERN
from clef_pro.domain.screening import find_control_character, find_secret_shape


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


#: Strings that passed lately, as a line and as free text. Reports repeat
#: most of their strings from one commit to the next, and both checks are
#: pure functions of the text: a string seen clean is clean. Only clean
#: strings are kept, short ones, and a set is emptied when full (bounded memory).
_CLEAN_LINES: set[str] = set()
_CLEAN_TEXTS: set[str] = set()
_CLEAN_MAX_ENTRIES: Final = 16_384
_CLEAN_MAX_LENGTH: Final = 256


def _remember(clean: set[str], value: str) -> str:
    if len(value) <= _CLEAN_MAX_LENGTH:
        if len(clean) >= _CLEAN_MAX_ENTRIES:
            clean.clear()
        clean.add(value)
    return value


def screen_line(value: str) -> str:
    """Refuse secret-shaped data in a one-line string (a name, id, version or URL)."""
    if value in _CLEAN_LINES:
        return value
    _refuse_secret_shapes(_refuse_controls(value, free_text=False))
    return _remember(_CLEAN_LINES, value)


def screen_text(value: str) -> str:
    """Refuse secret-shaped data in free text, where tabs and line breaks may stand."""
    if value in _CLEAN_TEXTS:
        return value
    _refuse_secret_shapes(_refuse_controls(value, free_text=True))
    return _remember(_CLEAN_TEXTS, value)


def refuse_controls(value: str) -> str:
    """Refuse a control character or lone surrogate in a one-line string that is
    not screened (a config value, a path id): PostgreSQL cannot store a NUL,
    SQLite would, and both must answer the same ``422``."""
    return _refuse_controls(value, free_text=False)


def _refuse_controls(value: str, *, free_text: bool) -> str:
    found = find_control_character(value, free_text=free_text)
    if found is not None:
        raise ValueError(f"contains {found}, which is not allowed here")
    return value


def _refuse_secret_shapes(value: str) -> str:
    kind = find_secret_shape(value)
    if kind is not None:
        # Name the kind of data, never the data: the message ends up in HTTP
        # responses and logs.
        raise ValueError(f"looks like it contains {kind}, which Clef Pro never stores")
    return value


#: A one-line string of a report, refused if it carries a control character
#: or secret-shaped data; and free text, which may also hold tabs and line breaks.
Screened = AfterValidator(screen_line)
#: A one-line string that is not screened but still may not carry a control character.
NoControls = AfterValidator(refuse_controls)
ScreenedText = AfterValidator(screen_text)

Text200 = Annotated[str, Field(strict=True, min_length=1, max_length=200), Screened]
Text64 = Annotated[str, Field(strict=True, min_length=1, max_length=64), Screened]
Description = Annotated[str, Field(strict=True, max_length=500), ScreenedText]
Message = Annotated[str, Field(strict=True, max_length=1000), ScreenedText]
Name = Annotated[str, Field(strict=True, pattern=NAME_PATTERN), Screened]
RuleId = Annotated[
    str,
    Field(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$"),
    Screened,
]
Count = Annotated[StrictInt, Field(ge=0, le=10_000_000)]
Flag = StrictBool
