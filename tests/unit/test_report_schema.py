from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from clef_pro.domain.report import Report, ReportBatch, content_digest
from tests.support.contract import example, forbidden_examples

#: The field each forbidden example must be refused for.
FORBIDDEN_FIELD = {
    "age-recipient-in-description.json": ("summary", "cells", 0, "description"),
    "bad-commit-sha.json": ("commitSha",),
    "bad-severity.json": ("policyResults", 0, "severity"),
    "file-path-in-message.json": ("policyResults", 1, "message"),
    "kms-arn-in-message.json": ("policyResults", 0, "message"),
    "pgp-fingerprint-in-drift.json": ("drift", 2, "summary"),
    "unknown-field-filepath.json": ("summary", "cells", 0, "filePath"),
    "unknown-field-recipients.json": ("recipients",),
}


@pytest.mark.parametrize("name", ["report-cli.json", "report-spec.json"])
def test_both_report_forms_are_accepted(name: str) -> None:
    Report.model_validate(example(name))


def test_the_example_batch_is_accepted() -> None:
    assert len(ReportBatch.model_validate(example("batch.json")).reports) == 3


@pytest.mark.parametrize("path", forbidden_examples(), ids=lambda p: p.name)
def test_each_forbidden_example_is_refused_naming_its_field(path: Path) -> None:
    body = json.loads(path.read_text())
    with pytest.raises(ValidationError) as refused:
        Report.model_validate(body)
    locations = [error["loc"] for error in refused.value.errors()]
    assert FORBIDDEN_FIELD[path.name] in locations


def test_every_forbidden_example_has_an_expected_field() -> None:
    assert {path.name for path in forbidden_examples()} == set(FORBIDDEN_FIELD)


def test_cli_form_normalises_to_canonical_scopes_and_severities() -> None:
    body = Report.model_validate(example("report-cli.json")).stored_body(keep_ci_context=True)
    first, second = body["policyResults"]
    assert first["scope"] == "database/dev"
    assert first["severity"] == "critical"  # the CLI's "error"
    assert second["scope"] == "auth/prod"


def test_spec_form_keeps_drift_as_it_came() -> None:
    body = Report.model_validate(example("report-spec.json")).stored_body(keep_ci_context=True)
    assert body["drift"][2] == {
        "namespace": "database",
        "isDrifted": True,
        "severity": "warning",
        "summary": "Development has an additional recipient",
    }
    assert body["policyResults"][2]["scope"] == "*"


def test_ci_context_is_dropped_unless_collected() -> None:
    report = Report.model_validate(example("report-spec.json"))
    assert "ciContext" not in report.stored_body(keep_ci_context=False)
    assert report.stored_body(keep_ci_context=True)["ciContext"]["provider"] == "gitlab-ci"


def _mutated(change: Any) -> dict[str, Any]:
    body = copy.deepcopy(example("report-spec.json"))
    change(body)
    return body


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda b: b.update(commitTimestamp="1763900500000"), ("commitTimestamp",)),
        (lambda b: b["summary"].update(passed="false"), ("summary", "passed")),
        (lambda b: b["drift"][0].pop("severity"), ("drift", 0)),
        (
            lambda b: b["summary"]["cells"][0].update(healthStatus="fine"),
            ("summary", "cells", 0, "healthStatus"),
        ),
        (lambda b: b["policyResults"][0].update(scope="a/b/c"), ("policyResults", 0)),
        (
            lambda b: b["policyResults"][0].update(message="x" * 1001),
            ("policyResults", 0, "message"),
        ),
        (lambda b: b.update(commit_sha=b.pop("commitSha")), ("commit_sha",)),
        (
            lambda b: b["ciContext"].update(pipelineUrl="javascript:alert(1)"),
            ("ciContext", "pipelineUrl"),
        ),
    ],
    ids=[
        "string-timestamp",
        "string-bool",
        "drift-without-measure",
        "bad-health",
        "bad-scope",
        "long-message",
        "snake-case-name",
        "non-http-url",
    ],
)
def test_malformed_reports_are_refused_at_the_offending_field(
    change: Any, location: tuple[str | int, ...]
) -> None:
    with pytest.raises(ValidationError) as refused:
        Report.model_validate(_mutated(change))
    assert location in [error["loc"] for error in refused.value.errors()]


def test_a_batch_holds_at_most_500_reports() -> None:
    report = example("report-spec.json")
    with pytest.raises(ValidationError, match="at most 500"):
        ReportBatch.model_validate({"reports": [report] * 501})


def test_equal_bodies_have_equal_digests_whatever_their_key_order() -> None:
    body = Report.model_validate(example("report-spec.json")).stored_body(keep_ci_context=True)
    reordered = dict(reversed(list(body.items())))
    assert content_digest(body) == content_digest(reordered)
