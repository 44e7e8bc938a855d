"""Screening at the report API, on a real Postgres: every string of a report,
the usual disguises, control characters and unknown field names are refused
with a 422 that names where the problem is, repeats nothing, and stores
nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from tests.support.contract import example
from tests.support.service import ServiceClient, key_headers

EVASIONS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "screening" / "evasions.json").read_text()
)


def stored_reports(settings: Settings) -> int:
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(models.Report))
    engine.dispose()
    return int(count or 0)


def _post(service: ServiceClient, key: str, path: str, body: object) -> Any:
    """POST exactly this JSON (ASCII-escaped, so lone surrogates survive the trip)."""
    return service.http.post(
        path,
        content=json.dumps(body, ensure_ascii=True),
        headers={**key_headers(key), "Content-Type": "application/json"},
    )


def _set(body: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


def _get(body: dict[str, Any], path: list[str | int]) -> Any:
    node: Any = body
    for part in path:
        node = node[part]
    return node


@pytest.mark.parametrize("evasion", EVASIONS, ids=lambda e: f"{e['field']}: {e.get('note', '')}")
def test_secret_shapes_and_their_disguises_are_refused_naming_the_field(
    service: ServiceClient, settings: Settings, evasion: dict[str, Any]
) -> None:
    (key,) = service.put_integration("payments", collection={"ciContext": True})
    body = _set(copy.deepcopy(example(evasion["example"])), evasion["path"], evasion["value"])
    response = _post(service, key, "/api/v1/reports", body)
    assert response.status_code == 422, response.text
    assert evasion["field"] in [entry["field"] for entry in response.json()["detail"]]
    assert evasion["value"] not in response.text
    assert json.dumps(evasion["value"])[1:-1] not in response.text
    assert stored_reports(settings) == 0


#: Every string of a report, in the example form that carries it.
STRING_FIELDS = [
    ("report-cli.json", ["branch"], "branch"),
    ("report-cli.json", ["cliVersion"], "cliVersion"),
    ("report-cli.json", ["summary", "namespaces", 0], "summary.namespaces[0]"),
    ("report-cli.json", ["summary", "cells", 0, "description"], "summary.cells[0].description"),
    ("report-cli.json", ["drift", 0, "namespace"], "drift[0].namespace"),
    ("report-cli.json", ["policyResults", 0, "ruleId"], "policyResults[0].ruleId"),
    ("report-cli.json", ["policyResults", 0, "ruleName"], "policyResults[0].ruleName"),
    ("report-cli.json", ["policyResults", 0, "message"], "policyResults[0].message"),
    (
        "report-cli.json",
        ["policyResults", 0, "scope", "environment"],
        "policyResults[0].scope.environment",
    ),
    ("report-spec.json", ["drift", 2, "summary"], "drift[2].summary"),
    ("report-spec.json", ["policyResults", 0, "scope"], "policyResults[0].scope"),
    ("report-spec.json", ["ciContext", "pipelineUrl"], "ciContext.pipelineUrl"),
    ("report-spec.json", ["ciContext", "provider"], "ciContext.provider"),
]


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\ud800"], ids=["NUL", "ESC", "surrogate"])
@pytest.mark.parametrize(("name", "path", "field"), STRING_FIELDS, ids=str)
def test_control_characters_are_a_422_naming_the_field_never_a_500(
    service: ServiceClient,
    settings: Settings,
    name: str,
    path: list[str | int],
    field: str,
    character: str,
) -> None:
    (key,) = service.put_integration("payments", collection={"ciContext": True})
    body = copy.deepcopy(example(name))
    value = _get(body, path)
    _set(body, path, value[:1] + character + value[1:])
    response = _post(service, key, "/api/v1/reports", body)
    assert response.status_code == 422, response.text
    assert field in [entry["field"] for entry in response.json()["detail"]]
    assert stored_reports(settings) == 0


def test_a_control_character_in_one_report_of_a_batch_stores_none_of_it(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments")
    reports = copy.deepcopy(example("batch.json")["reports"])
    reports[1]["policyResults"][0]["message"] = "2 keys\x00 missing"
    response = _post(service, key, "/api/v1/reports/batch", {"reports": reports})
    assert response.status_code == 422, response.text
    assert [entry["field"] for entry in response.json()["detail"]] == [
        "reports[1].policyResults[0].message"
    ]
    assert stored_reports(settings) == 0


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("summary", ["summary"]),
        ("policyResults[1]", ["policyResults", 1]),
        ("policyResults[0].scope", ["policyResults", 0, "scope"]),
        ("body", []),
    ],
)
def test_an_unknown_field_is_reported_where_it_was_never_by_its_name(
    service: ServiceClient, settings: Settings, where: str, path: list[str | int]
) -> None:
    (key,) = service.put_integration("payments")
    secret_name = "/home/ci/secrets/prod.enc.yaml"
    body = copy.deepcopy(example("report-cli.json"))
    holder = _get(body, path)
    holder[secret_name] = {
        "recipients": ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
    }
    holder["DATABASE_PASSWORD"] = "x"
    response = _post(service, key, "/api/v1/reports", body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert [entry["field"] for entry in detail] == [where]
    assert detail[0]["loc"] == ["body", *path]
    assert detail[0]["type"] == "extra_forbidden"
    for echoed in (secret_name, "prod.enc.yaml", "DATABASE_PASSWORD", "age1ql3z"):
        assert echoed not in response.text
    assert stored_reports(settings) == 0


def test_a_merge_queue_branch_and_the_clis_own_wording_are_accepted(
    service: ServiceClient, settings: Settings
) -> None:
    (key,) = service.put_integration("payments", collection={"ciContext": True})
    body = copy.deepcopy(example("report-cli.json"))
    body["branch"] = "gh-readonly-queue/main/pr-1234-3f9c2a7d41be08c6a5f1e2d3c4b5a69788796a5b"
    body["policyResults"][0]["message"] = (
        "Expected recipient 'age1\u2026aqmcac8p' is missing from encrypted file."
    )
    body["policyResults"][1]["message"] = "1 key in [dev, staging] missing from production"
    body["summary"]["cells"][0]["description"] = "Missing encrypted file for database/dev."
    body["ciContext"] = {
        "provider": "github-actions",
        "pipelineUrl": "https://github.com/acme/repo/actions/runs/123",
        "trigger": "push",
    }
    response = _post(service, key, "/api/v1/reports", body)
    assert response.status_code == 200, response.text
    assert stored_reports(settings) == 1
