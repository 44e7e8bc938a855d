"""Validation errors name where the problem is and never repeat what was sent.

Every kind of error pydantic raises for a report body is provoked with a
secret as the offending value (or the offending field name), and the 422
detail the API would send is checked for any part of it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from clef_pro.domain.report import Report, ReportBatch
from clef_pro_api.errors import field_path, validation_detail
from tests.support.contract import example

SECRET = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
SECRET_PATH = "/home/ci/secrets/prod.enc.yaml"


def _cli() -> dict[str, Any]:
    return copy.deepcopy(example("report-cli.json"))


def _spec() -> dict[str, Any]:
    return copy.deepcopy(example("report-spec.json"))


def _with(base: Callable[[], dict[str, Any]], change: Callable[[dict[str, Any]], None]) -> Any:
    body = base()
    change(body)
    return body


MUTATIONS: dict[str, Any] = {
    "unknown field at the top": _with(_cli, lambda b: b.update({SECRET_PATH: {"x": SECRET}})),
    "unknown field in summary": _with(_cli, lambda b: b["summary"].update({SECRET_PATH: 1})),
    "unknown field in a cell": _with(_cli, lambda b: b["summary"]["cells"][0].update({SECRET: 1})),
    "unknown field in a scope": _with(
        _cli, lambda b: b["policyResults"][0]["scope"].update({SECRET: 1})
    ),
    "unknown field in ciContext": _with(_spec, lambda b: b["ciContext"].update({SECRET: 1})),
    "enum": _with(_cli, lambda b: b["summary"]["cells"][0].update(healthStatus=SECRET)),
    "severity words": _with(_cli, lambda b: b["policyResults"][0].update(severity=SECRET)),
    "pattern (commit)": _with(_cli, lambda b: b.update(commitSha=SECRET)),
    "pattern (branch)": _with(_cli, lambda b: b.update(branch=f"{SECRET} x")),
    "pattern (url)": _with(_spec, lambda b: b["ciContext"].update(pipelineUrl=f"ftp:{SECRET}")),
    "pattern (name)": _with(_cli, lambda b: b["summary"]["namespaces"].append(f"{SECRET}/x")),
    "integer": _with(_cli, lambda b: b.update(commitTimestamp=SECRET)),
    "boolean": _with(_cli, lambda b: b["summary"].update(passed=SECRET)),
    "too long": _with(_cli, lambda b: b["policyResults"][0].update(message=SECRET * 20)),
    "screened": _with(_cli, lambda b: b["policyResults"][0].update(message=f"see {SECRET}")),
    "object expected": _with(_cli, lambda b: b.update(summary=SECRET)),
    "list expected": _with(_cli, lambda b: b["summary"].update(cells=SECRET)),
    "scope of another type": _with(_cli, lambda b: b["policyResults"][0].update(scope=[SECRET])),
    "scope string": _with(_spec, lambda b: b["policyResults"][0].update(scope=f"a/b/{SECRET}")),
    "drift without a measure": _with(_cli, lambda b: b["drift"].append({"namespace": "x"})),
    "missing field": _with(_cli, lambda b: b.pop("branch")),
    "control character": _with(_cli, lambda b: b.update(cliVersion=f"{SECRET}\x00")),
}


def _detail(body: Any, model: type[Report] | type[ReportBatch] = Report) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as refused:
        model.model_validate(body)
    return validation_detail(refused.value.errors())


@pytest.mark.parametrize("body", MUTATIONS.values(), ids=MUTATIONS.keys())
def test_no_error_repeats_the_value_or_the_field_name_it_refuses(body: Any) -> None:
    rendered = json.dumps(_detail(body))
    for part in (SECRET, SECRET[:12], SECRET_PATH, "prod.enc.yaml"):
        assert part not in rendered, rendered


def test_every_error_names_a_field() -> None:
    for body in MUTATIONS.values():
        assert all(entry["field"] for entry in _detail(body))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["summary"].update({SECRET_PATH: 1}), "summary"),
        (lambda b: b["policyResults"][1].update({SECRET: 1}), "policyResults[1]"),
        (lambda b: b["policyResults"][0]["scope"].update({SECRET: 1}), "policyResults[0].scope"),
        (lambda b: b.update({SECRET: 1}), "body"),
    ],
)
def test_an_unknown_field_is_named_by_the_object_that_holds_it(
    change: Callable[[dict[str, Any]], None], field: str
) -> None:
    (entry,) = _detail(_with(_cli, change))
    assert entry["field"] == field
    assert entry["type"] == "extra_forbidden"
    assert "unknown fields are refused" in entry["msg"]


def test_several_unknown_fields_in_one_object_are_one_entry() -> None:
    body = _with(_cli, lambda b: b["summary"].update({"a": 1, "b": 2, "c": 3}))
    assert [entry["field"] for entry in _detail(body)] == ["summary"]


def test_in_a_batch_the_report_is_named_too() -> None:
    reports = [_cli(), _with(_cli, lambda b: b["summary"].update({SECRET_PATH: 1}))]
    assert [entry["field"] for entry in _detail({"reports": reports}, ReportBatch)] == [
        "reports[1].summary"
    ]


def test_scope_errors_name_the_scope_not_its_form() -> None:
    body = _with(_cli, lambda b: b["policyResults"][0].update(scope=5))
    assert [entry["field"] for entry in _detail(body)] == ["policyResults[0].scope"]


def test_a_message_that_quotes_the_input_is_replaced() -> None:
    error = {
        "type": "union_tag_invalid",
        "loc": ("body", "channels", 0),
        "msg": f"Input tag '{SECRET}' found using 'type' does not match any of the expected tags",
        "input": {"type": SECRET},
        "ctx": {"tag": SECRET, "expected_tags": "'email', 'webhook'"},
    }
    quoting = {
        "type": "value_error",
        "loc": ("body", "x"),
        "msg": f"Value error, {SECRET} is not allowed",
        "input": SECRET,
    }
    rendered = json.dumps(validation_detail([error, quoting]))
    assert SECRET not in rendered
    assert [entry["field"] for entry in validation_detail([error, quoting])] == [
        "channels[0]",
        "x",
    ]


def test_scope_union_tags_are_left_out_of_paths() -> None:
    assert field_path(("body", "policyResults", 0, "scope", "object", "namespace")) == (
        "policyResults[0].scope.namespace"
    )
    assert field_path(("body", "policyResults", 0, "scope", "string")) == "policyResults[0].scope"
