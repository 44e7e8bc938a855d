from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from clef_pro.domain.report import (
    SCOPE_FORMS,
    Report,
    ReportBatch,
    ServerClock,
    content_digest,
    inherit_branches,
    validation_context,
)
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


def test_a_policy_results_scope_is_parsed_once_and_stays_out_of_its_data() -> None:
    read, unread = (Report.model_validate(example("report-cli.json")) for _ in range(2))
    result = read.policy_results[0]
    assert result.scope_value is result.scope_value
    assert result.canonical_scope == "database/dev"
    # Kept beside the fields, not as one: equality, hashing and dumps ignore it.
    assert read == unread
    assert hash(result) == hash(unread.policy_results[0])
    assert "scope_value" not in result.model_dump()


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


def test_a_batch_is_not_limited_by_a_count() -> None:
    report = example("report-spec.json")
    body = json.dumps({"reports": [report] * 10_000})
    assert len(ReportBatch.model_validate_json(body).reports) == 10_000


def test_the_detached_backfill_example_is_accepted_and_inherits_its_heads_branch() -> None:
    batch = ReportBatch.model_validate(example("batch-backfill-detached.json"))
    assert [report.branch for report in batch.reports] == ["", "", "main"]
    assert [report.branch for report in inherit_branches(batch.reports)] == ["main"] * 3


def test_a_batch_with_no_named_branch_stays_on_an_unknown_branch() -> None:
    report = Report.model_validate(example("report-spec.json") | {"branch": ""})
    assert report.is_on_unknown_branch
    assert inherit_branches([report, report]) == [report, report]


def test_a_report_on_a_detached_head_is_accepted_alone() -> None:
    assert Report.model_validate(example("report-cli.json") | {"branch": ""}).branch == ""


def test_ci_is_accepted_as_the_name_of_ci_context_and_stored_as_ci_context() -> None:
    body = example("report-spec.json")
    body["ci"] = body.pop("ciContext")
    report = Report.model_validate(body)
    stored = report.stored_body(keep_ci_context=True)
    assert stored["ciContext"] == body["ci"]
    assert "ci" not in stored
    assert "ciContext" not in report.stored_body(keep_ci_context=False)


def test_ci_and_ci_context_at_once_are_refused() -> None:
    body = example("report-spec.json")
    body["ci"] = body["ciContext"]
    with pytest.raises(ValidationError, match="send one of them"):
        Report.model_validate(body)


NOW_MS = 1_800_000_000_000
CLOCK = ServerClock(now_ms=NOW_MS, max_future_ms=24 * 3_600_000)


def test_a_commit_timestamp_far_ahead_of_the_server_is_refused() -> None:
    body = example("report-spec.json") | {"commitTimestamp": NOW_MS + 25 * 3_600_000}
    with pytest.raises(ValidationError) as refused:
        Report.model_validate(body, context=validation_context(CLOCK))
    assert refused.value.errors()[0]["loc"] == ("commitTimestamp",)
    assert "24 h ahead" in str(refused.value)


def test_a_commit_timestamp_within_the_allowance_is_accepted() -> None:
    body = example("report-spec.json") | {"commitTimestamp": NOW_MS + 23 * 3_600_000}
    Report.model_validate(body, context=validation_context(CLOCK))


def test_equal_bodies_have_equal_digests_whatever_their_key_order() -> None:
    body = Report.model_validate(example("report-spec.json")).stored_body(keep_ci_context=True)
    reordered = dict(reversed(list(body.items())))
    assert content_digest(body) == content_digest(reordered)


# --- every string is screened -----------------------------------------------------

EVASIONS: list[dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "screening" / "evasions.json").read_text()
)


def _set(body: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return body


def _client_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """A location as the client wrote it: without the scope form's union tag."""
    return tuple(
        part
        for index, part in enumerate(loc)
        if not (index and part in SCOPE_FORMS and loc[index - 1] == "scope")
    )


def _location(field: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for piece in field.replace("]", "").replace("[", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


@pytest.mark.parametrize("evasion", EVASIONS, ids=lambda e: f"{e['field']}: {e.get('note', '')}")
def test_secret_shapes_are_refused_in_every_string_of_a_report(evasion: dict[str, Any]) -> None:
    body = _set(copy.deepcopy(example(evasion["example"])), evasion["path"], evasion["value"])
    with pytest.raises(ValidationError) as refused:
        Report.model_validate(body)
    errors = refused.value.errors()
    expected = _location(evasion["field"])
    located = [error for error in errors if _client_loc(error["loc"])[: len(expected)] == expected]
    assert located, [error["loc"] for error in errors]
    assert all(evasion["value"] not in str(error["msg"]) for error in errors)


#: Every string field of a report, in the form whose example carries it.
STRING_FIELDS = [
    ("report-cli.json", ["branch"]),
    ("report-cli.json", ["cliVersion"]),
    ("report-cli.json", ["summary", "namespaces", 0]),
    ("report-cli.json", ["summary", "environments", 0]),
    ("report-cli.json", ["summary", "cells", 0, "namespace"]),
    ("report-cli.json", ["summary", "cells", 0, "environment"]),
    ("report-cli.json", ["summary", "cells", 0, "description"]),
    ("report-cli.json", ["drift", 0, "namespace"]),
    ("report-cli.json", ["policyResults", 0, "ruleId"]),
    ("report-cli.json", ["policyResults", 0, "ruleName"]),
    ("report-cli.json", ["policyResults", 0, "message"]),
    ("report-cli.json", ["policyResults", 0, "scope", "namespace"]),
    ("report-cli.json", ["policyResults", 0, "scope", "environment"]),
    ("report-spec.json", ["drift", 0, "summary"]),
    ("report-spec.json", ["policyResults", 0, "scope"]),
    ("report-spec.json", ["ciContext", "provider"]),
    ("report-spec.json", ["ciContext", "pipelineUrl"]),
    ("report-spec.json", ["ciContext", "trigger"]),
]


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f", "\x85", "\ud800"])
@pytest.mark.parametrize(("name", "path"), STRING_FIELDS, ids=str)
def test_control_characters_are_refused_in_every_string_naming_the_field(
    name: str, path: list[str | int], control: str
) -> None:
    body = copy.deepcopy(example(name))
    node: Any = body
    for part in path:
        node = node[part]
    _set(body, path, node[:2] + control + node[2:])
    with pytest.raises(ValidationError) as refused:
        Report.model_validate(body)
    assert any(
        _client_loc(error["loc"])[: len(path)] == tuple(path) for error in refused.value.errors()
    )


@pytest.mark.parametrize(
    "path", [["summary", "cells", 0, "description"], ["policyResults", 0, "message"]]
)
def test_free_text_may_hold_tabs_and_line_breaks(path: list[str | int]) -> None:
    body = _set(copy.deepcopy(example("report-cli.json")), path, "2 keys missing:\n\tdev\r\n\tprod")
    Report.model_validate(body)


def test_a_merge_queue_branch_may_carry_its_commit_id() -> None:
    sha = "3f9c2a7d41be08c6a5f1e2d3c4b5a69788796a5b"
    queued = f"gh-readonly-queue/main/pr-1234-{sha}"
    assert Report.model_validate(example("report-cli.json") | {"branch": queued}).branch == queued
    with pytest.raises(ValidationError):
        Report.model_validate(example("report-cli.json") | {"branch": f"feature/{sha}"})
