"""HTTP error bodies that name the offending field and never echo a value.

FastAPI's default validation error body repeats the input (``input``, and
``ctx`` for some errors). For a report refused because it carries a recipient
or a key ARN, that would hand the secret straight back and into every log on
the way, so the handlers here rebuild the body from locations and messages
only, and check those too:

- an unknown field is reported where it was (``summary``, ``policyResults[2]``),
  never by its name: the name is input, and may itself be the secret
  (``{"/home/ci/secrets/prod.enc.yaml": ...}``);
- a message that would quote the input (an unexpected union tag, or any
  message that contains the offending string) is replaced by a fixed one;
- union member tags pydantic puts in locations are left out of paths.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette import status

from clef_pro.domain.config import CHANNEL_TYPES
from clef_pro.domain.report import SCOPE_FORMS
from clef_pro_api.services.errors import Conflict, InvalidParameter, NotFound

_SOURCES = {"body", "query", "path", "header"}


def _without_union_tags(parts: list[str | int]) -> list[str | int]:
    """Drop the tags pydantic puts in the location of a tagged union's member
    (``channels[0].email.to[0]``, ``policyResults[0].scope.object``): the
    client wrote ``channels[0].to[0]`` and ``policyResults[0].scope``."""
    kept: list[str | int] = []
    for index, part in enumerate(parts):
        if (
            index >= 2
            and part in CHANNEL_TYPES
            and isinstance(parts[index - 1], int)
            and parts[index - 2] == "channels"
        ):
            continue
        if index >= 1 and part in SCOPE_FORMS and parts[index - 1] == "scope":
            continue
        kept.append(part)
    return kept


def field_path(loc: Sequence[str | int]) -> str:
    """``("body", "summary", "cells", 0, "description")`` -> ``summary.cells[0].description``."""
    parts = _without_union_tags(list(loc))
    if parts and parts[0] in _SOURCES:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


#: Messages that read better than pydantic's for a client author, or that
#: replace one quoting the input.
_MESSAGES = {
    "extra_forbidden": (
        "has a field that is not part of this API; unknown fields are refused, not ignored "
        "(its name is not repeated here: a name can itself be the data Clef Pro refuses)"
    ),
    "missing": "is required",
}
#: Messages that would repeat what the client sent.
_QUOTING = {
    "union_tag_invalid": "is not one of the accepted types",
    "union_tag_not_found": "does not say which type it is",
}
_GENERIC = "is not valid"
#: Shorter inputs are not taken for quotes ("a" is in most messages).
_SHORTEST_QUOTE = 4


def _message(error: Any) -> str:
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in _QUOTING:
        return _QUOTING[kind]
    message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    quoted = error.get("input")
    if isinstance(quoted, str) and len(quoted) >= _SHORTEST_QUOTE and quoted in message:
        return _GENERIC
    return message


def _location(error: Any) -> list[str | int]:
    """Where the error is; for an unknown field, the object that holds it."""
    loc = list(error["loc"])
    if error["type"] == "extra_forbidden" and loc:
        loc.pop()
    return _without_union_tags(loc)


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    detail: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for error in errors:
        loc = _location(error)
        key = (tuple(loc), error["type"])
        if key in seen:  # several unknown fields in one object: one entry
            continue
        seen.add(key)
        detail.append(
            {"loc": loc, "field": field_path(loc), "msg": _message(error), "type": error["type"]}
        )
    return detail


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": validation_detail(exc.errors())},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(InvalidParameter)
    async def _invalid_parameter(_request: Request, exc: InvalidParameter) -> JSONResponse:
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["query", exc.name],
                        "field": exc.name,
                        "msg": exc.message,
                        "type": "value_error",
                    }
                ]
            },
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, _exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": "not found"}, status_code=status.HTTP_404_NOT_FOUND)

    @app.exception_handler(Conflict)
    async def _conflict(_request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_409_CONFLICT)
