"""A bounded schemathesis pass over the whole OpenAPI document, on a real server over Postgres.

Every operation gets a fixed number of generated requests, valid and invalid
(derandomised, so a failure reproduces), authenticated as its callers are:
the CI endpoints with a real integration API key, everything else with the
admin token. No answer may be a server error, and every status must be one
the document gives for that operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from tests.support.postgres import Databases
from tests.support.server import start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient

pytestmark = pytest.mark.server

#: Requests per operation and mode; about twenty operations stay well under two minutes.
EXAMPLES = 25
#: The endpoints the Clef CLI calls with an integration's API key.
CI_PATHS = frozenset({"/api/v1/reports", "/api/v1/reports/batch", "/v1/logs", "/v1/checkpoint"})
AUTH_HEADERS = ("authorization", "x-api-key")


def _runs() -> list[tuple[str, str, GenerationMode]]:
    """Every operation of the document (the app's own, built without a database):
    valid input for each, invalid input for each that takes any."""
    app = create_app(Settings(database_url="sqlite://", admin_token=ADMIN_TOKEN))
    paths: dict[str, Any] = app.openapi()["paths"]
    runs = []
    for path, item in paths.items():
        for method, operation in item.items():
            runs.append((method.upper(), path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                runs.append((method.upper(), path, GenerationMode.NEGATIVE))
    return runs


RUNS = _runs()


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str
    schema: Any


@pytest.fixture(scope="module")
def target(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    name = databases.create()
    root: Path = tmp_path_factory.mktemp("fuzz")
    env = {
        "CLEF_PRO_DATABASE_URL": databases.server.url(name),
        "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
        "CLEF_PRO_DATA_DIR": str(root / "data"),
        "CLEF_PRO_LOG_LEVEL": "warning",
    }
    server = start_server(env, root / "server.log")
    try:
        with server.client() as http:
            (key,) = ServiceClient(http).put_integration("fuzzed")
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        yield Target(server.url, key, schema)
    finally:
        server.stop()
        databases.drop(name)


@pytest.mark.parametrize(
    ("method", "path", "mode"), RUNS, ids=[f"{m} {p} {mode.value}" for m, p, mode in RUNS]
)
def test_no_operation_answers_a_server_error_or_an_undocumented_status(
    target: Target, method: str, path: str, mode: GenerationMode
) -> None:
    operation = target.schema[path][method]
    credential = target.api_key if path in CI_PATHS else ADMIN_TOKEN
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def call(case: Case[Any]) -> None:
        # The generated credentials would only ever be refused: use the real ones.
        for name in AUTH_HEADERS:
            case.headers.pop(name, None)
        response = case.call_and_validate(
            base_url=target.url,
            headers={"Authorization": f"Bearer {credential}"},
            checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            timeout=30,
        )
        statuses.append(response.status_code)

    call()
    # A pass that only ever met the door would prove nothing about what is behind it.
    assert set(statuses) - {401, 403}, f"every request was refused its credentials: {statuses}"
