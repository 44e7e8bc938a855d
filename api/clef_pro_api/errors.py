"""HTTP error bodies that name the offending field and never echo a value.

FastAPI's default validation error body repeats the input (``input``, and
``ctx`` for some errors). For a report refused because it carries a recipient
or a key ARN, that would hand the secret straight back and into every log on
the way, so the handlers here rebuild the body from locations and messages
only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette import status

from clef_pro.domain.config import CHANNEL_TYPES
from clef_pro_api.services.errors import Conflict, InvalidParameter, NotFound

_SOURCES = {"body", "query", "path", "header"}


def _without_union_tags(parts: list[str | int]) -> list[str | int]:
    """Drop the tag pydantic puts in the location of a tagged union's member
    (``channels[0].email.to[0]``): the client wrote ``channels[0].to[0]``."""
    kept: list[str | int] = []
    for index, part in enumerate(parts):
        if (
            index >= 2
            and part in CHANNEL_TYPES
            and isinstance(parts[index - 1], int)
            and parts[index - 2] == "channels"
        ):
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


#: Messages that read better than pydantic's for a client author.
_MESSAGES = {
    "extra_forbidden": "is not a field of this API; unknown fields are refused, not ignored",
    "missing": "is required",
}


def _message(error: Any) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def validation_detail(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "loc": list(error["loc"]),
            "field": field_path(error["loc"]),
            "msg": _message(error),
            "type": error["type"],
        }
        for error in errors
    ]


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
