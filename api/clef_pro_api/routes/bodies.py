"""Request bodies of the CI endpoints: media type, JSON parsing, validation.

The CI endpoints read their body as bytes on the event loop and hand it, once
per request, to a worker thread that authenticates, parses, validates,
screens and stores it. Parsing is pydantic's ``model_validate_json`` straight
from the bytes (in Rust, linear in the input, no intermediate dicts), so a
hostile or merely huge body costs a worker thread its time and never stalls
the loop that answers ``/healthz``.

FastAPI would otherwise parse the body on the event loop (``json.loads``,
then validation) and run every synchronous dependency in a thread of its
own; declaring the body here keeps its schema in the OpenAPI document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette import status

from clef_pro_api.errors import json_syntax_error

Model = TypeVar("Model", bound=BaseModel)

JSON: Final = "application/json"
_POSITION = re.compile(r"line (\d+) column (\d+)")
#: Bodies up to this size whose only fault is a lone UTF-16 surrogate escape
#: are read again by Python's ``json`` (which takes such escapes) so that the
#: ``422`` names the field that carries it, as for any other control character.
#: Larger ones (batches) get the position instead: re-reading them into Python
#: objects would cost a hostile body far more memory than it is worth.
SURROGATE_RETRY_LIMIT: Final = 1 << 20

#: Models whose JSON schema the OpenAPI document must carry for raw-body routes.
_DOCUMENTED: dict[str, type[BaseModel]] = {}


def media_type(request: Request) -> str | None:
    """The request's media type without parameters, lower case; ``None`` if absent."""
    header = request.headers.get("content-type")
    if header is None:
        return None
    return header.split(";", 1)[0].strip().lower() or None


def require_json(request: Request) -> None:
    """``415`` unless the body is declared JSON (or not declared at all, as
    hand-written ``curl`` calls often do not)."""
    declared = media_type(request)
    if declared is not None and declared != JSON and not declared.endswith("+json"):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        )


async def json_body_only(request: Request) -> None:
    """A dependency for routes whose body FastAPI parses: ``415`` unless JSON,
    instead of a validation error about a dictionary."""
    require_json(request)


def parse_json(
    model: type[Model], body: bytes | bytearray, *, context: Mapping[str, Any] | None = None
) -> Model:
    """Parse and validate ``body`` as ``model``; a ``422`` naming each field otherwise.

    Call it in a worker thread: it is CPU work proportional to the body.
    """
    validation_context = dict(context) if context else None
    try:
        return model.model_validate_json(body, context=validation_context)
    except ValidationError as exc:
        if not _lone_surrogate(exc) or len(body) > SURROGATE_RETRY_LIMIT:
            raise RequestValidationError(validation_errors(exc)) from None
    try:
        decoded = json.loads(body)
    except ValueError:
        decoded = None
    try:
        return model.model_validate(decoded, context=validation_context)
    except ValidationError as exc:
        raise RequestValidationError(validation_errors(exc)) from None


def _lone_surrogate(exc: ValidationError) -> bool:
    """Whether parsing failed on a ``\\uD800``-style escape, which the JSON
    grammar allows but the Rust parser refuses as invalid Unicode."""
    return any(
        error["type"] == "json_invalid"
        and ("surrogate" in str(error["msg"]) or "hex escape" in str(error["msg"]))
        for error in exc.errors(include_url=False, include_input=False)
    )


def validation_errors(
    exc: ValidationError, *, at: tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    """``exc``'s errors as a ``422`` lists them, located under ``body`` and ``at``."""
    errors: list[dict[str, Any]] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        if error["type"] == "json_invalid":
            position = _POSITION.search(str(error["msg"]))
            line, column = (int(position[1]), int(position[2])) if position else (1, 0)
            return [json_syntax_error(line, column)]
        errors.append({**error, "loc": ("body", *at, *error["loc"])})
    return errors


def openapi_json_body(model: type[BaseModel], *, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` declaring ``model`` as the JSON request body of a raw-body route."""
    _DOCUMENTED[model.__name__] = model
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def document_bodies(app: FastAPI) -> None:
    """Add the schemas of :func:`openapi_json_body` models to the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _DOCUMENTED.items():
            schema = TypeAdapter(model).json_schema(
                ref_template="#/components/schemas/{model}", by_alias=True
            )
            for def_name, definition in schema.pop("$defs", {}).items():
                schemas.setdefault(def_name, definition)
            schemas[name] = schema
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
