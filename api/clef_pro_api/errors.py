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

import logging
from collections.abc import Sequence
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette import status

from clef_pro.domain.config import CHANNEL_TYPES
from clef_pro.domain.report import SCOPE_FORMS
from clef_pro_api import schemas
from clef_pro_api.services.errors import Conflict, InvalidParameter, NotFound

log = logging.getLogger(__name__)

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


def json_syntax_error(line: int, column: int) -> dict[str, Any]:
    """The error of a body that is not JSON: where it breaks, never an offset
    posing as a field name."""
    return {
        "type": "json_invalid",
        "loc": ("body",),
        "msg": f"body is not valid JSON at line {line} column {column}",
    }


def _json_position(error: Any, document: Any) -> dict[str, Any] | None:
    """FastAPI reports a JSON syntax error at ``("body", <character offset>)``."""
    location = error.get("loc", ())
    if error.get("type") != "json_invalid" or len(location) != 2:
        return None
    offset = location[1]
    if not isinstance(offset, int) or not isinstance(document, str):
        return json_syntax_error(1, 1)
    line = document.count("\n", 0, offset) + 1
    column = offset - document.rfind("\n", 0, offset)
    return json_syntax_error(line, column)


def validation_detail(errors: Sequence[Any], document: Any = None) -> list[dict[str, Any]]:
    detail: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    for raw in errors:
        error = _json_position(raw, document) or raw
        loc = _location(error)
        key = (tuple(loc), error["type"])
        if key in seen:  # several unknown fields in one object: one entry
            continue
        seen.add(key)
        detail.append(
            {"loc": loc, "field": field_path(loc), "msg": _message(error), "type": error["type"]}
        )
    return detail


class DatabaseUnavailable(Exception):
    """The database cannot be reached; nothing was stored."""


#: Seconds a client is asked to wait before retrying while the database is away.
RETRY_AFTER_SECONDS: Final = 5


def is_database_unavailable(exc: BaseException) -> bool:
    """A lost or refused connection, or SQLite's lock timeout: retry later."""
    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": validation_detail(exc.errors(), exc.body)},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if not is_database_unavailable(exc):
            raise exc
        log.warning("database unavailable on %s %s", request.method, request.url.path)
        return database_unavailable_response()

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


#: The refusals routes answer, as the OpenAPI document shows them: one
#: definition, picked per route with :func:`answers` (FastAPI's ``responses=``).
ERROR_RESPONSES: Final[dict[int, dict[str, Any]]] = {
    status.HTTP_400_BAD_REQUEST: {
        "model": schemas.ErrorMessage,
        "description": "The body cannot be read (malformed, or not what this endpoint takes)",
    },
    status.HTTP_401_UNAUTHORIZED: {
        "model": schemas.ErrorMessage,
        "description": "Missing, malformed, unknown or revoked credentials",
    },
    status.HTTP_403_FORBIDDEN: {
        "model": schemas.ErrorMessage,
        "description": "A credential of the wrong kind: the admin token where a CI API key "
        "is needed, or a CI API key where the admin token is",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": schemas.ErrorMessage,
        "description": "No such resource (or none this credential may see)",
    },
    status.HTTP_409_CONFLICT: {
        "model": schemas.ErrorMessage,
        "description": "Conflicts with what is stored; the message says how",
    },
    status.HTTP_413_CONTENT_TOO_LARGE: {
        "model": schemas.ErrorMessage,
        "description": "The body is larger than this endpoint takes; nothing was stored",
    },
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: {
        "model": schemas.ErrorMessage,
        "description": "The body is not declared as JSON",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": schemas.ValidationErrors,
        "description": "A parameter or field is invalid: each entry names it and says why, "
        "never repeating the value; nothing was stored",
    },
    status.HTTP_429_TOO_MANY_REQUESTS: {
        "model": schemas.ErrorMessage,
        "description": "Too many requests; retry after Retry-After seconds",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": schemas.ErrorMessage,
        "description": "The database is unavailable; nothing was stored, retry after "
        "Retry-After seconds",
    },
}


def answers(
    *codes: int, model: type[BaseModel] | None = None, content: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The documented refusals ``codes``, for a route's ``responses=``; a route
    whose error bodies differ (OTLP's) names its ``model`` and extra ``content``."""
    chosen: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        answer = dict(ERROR_RESPONSES[code])
        if model is not None:
            answer["model"] = model
        if content is not None:
            answer["content"] = content
        chosen[code] = answer
    return chosen


def database_unavailable_response() -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is unavailable; nothing was stored, retry later"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
