"""The OpenAPI document shows every refusal a route gives, in the body it is given in.

Clients (and the schemathesis pass in tests/api) read the document to know what
to expect: a 401 or 403 on every authenticated route, a 404 and 422 wherever a
path names something, 413 and 422 wherever a body is taken, and the 422 body
this service sends (``field`` named, no input), not FastAPI's default.
"""

from __future__ import annotations

from typing import Any

import pytest

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.service import ADMIN_TOKEN


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    app = create_app(Settings(database_url="sqlite://", admin_token=ADMIN_TOKEN))
    openapi: dict[str, Any] = app.openapi()
    return openapi


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_authenticated_route_documents_401_403_and_503(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if operation.get("security"):
            assert {"401", "403", "503"} <= set(operation["responses"]), f"{method} {path}"


def test_every_route_that_names_something_documents_404_and_422(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if "{" in path and method != "PUT":
            assert {"404", "422"} <= set(operation["responses"]), f"{method} {path}"


def test_every_route_that_takes_a_body_documents_413(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        if "requestBody" in operation:
            assert "413" in operation["responses"], f"{method} {path}"
            assert {"400", "422"} & set(operation["responses"]), f"{method} {path}"


def test_conflicts_are_documented_where_they_happen(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "409" in paths["/admin/v1/integrations/{integration_id}"]["put"]["responses"]
    assert "409" in paths["/api/v1/alerts/{alert_id}/acknowledge"]["post"]["responses"]
    assert "409" in paths["/api/v1/integrations/{integration_id}/matrix"]["get"]["responses"]


def test_a_422_is_documented_as_the_body_this_service_sends(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["FieldError"]["properties"]) == {"loc", "field", "msg", "type"}
    for method, path, operation in _operations(document):
        answer = operation["responses"].get("422")
        if answer is not None:
            reference = answer["content"]["application/json"]["schema"]["$ref"]
            assert reference.endswith("/ValidationErrors"), f"{method} {path}"


def test_the_otlp_receiver_documents_its_refusals_as_rpc_statuses(
    document: dict[str, Any],
) -> None:
    responses = document["paths"]["/v1/logs"]["post"]["responses"]
    assert {"400", "401", "403", "413", "415", "429", "503"} <= set(responses)
    content = responses["401"]["content"]
    assert content["application/json"]["schema"]["$ref"].endswith("/OtlpStatus")
    assert "application/x-protobuf" in content
