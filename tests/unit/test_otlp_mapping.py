"""OTLP pushes onto reports, lint and drift results: the mapping and its security model."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from clef_pro.domain.lifecycle import AlertKey, OpenAlert, evaluate
from clef_pro.domain.otlp import Mapped, map_request
from clef_pro.domain.otlp_json import ExportLogsServiceRequest
from clef_pro.domain.report import Report
from tests.support.contract import example
from tests.support.otlp import attribute, issue_record, report_push

PUSHED_MS = 1_796_500_000_000
DAY_MS = 86_400_000


def mapped(body: dict[str, Any], *, received_at_ms: int = PUSHED_MS) -> Mapped:
    request = ExportLogsServiceRequest.model_validate_json(json.dumps(body))
    return map_request(request.to_records(), received_at_ms=received_at_ms, max_future_ms=DAY_MS)


def all_text(result: Mapped) -> str:
    documents: list[Any] = [r.stored_body(keep_ci_context=True) for r in result.reports]
    documents += [r.to_document() for r in result.lint] + [r.to_document() for r in result.drift]
    return json.dumps(documents) + repr(result.lint) + repr(result.drift) + result.error_message()


def test_a_report_push_is_the_report_the_report_apis_cli_form_would_make() -> None:
    result = mapped(example("otlp/report-push.json"))
    (report,) = result.reports
    assert report.commit_sha == "9f1c2a7be0d4c3a18e55f0b2c7d9a6e4f1b3c5d7"
    assert report.branch == "main"
    assert report.commit_timestamp == PUSHED_MS
    assert report.cli_version == "0.1.30"
    assert report.summary.files_scanned == 9
    assert report.summary.violations == 2
    assert report.summary.passed is False
    assert report.summary.cells == []
    assert [
        (r.rule_id, r.rule_name, r.passed, r.severity.value) for r in report.policy_results
    ] == [
        ("schema/error", "schema", False, "critical"),
        ("matrix/error", "matrix", False, "critical"),
        ("drift/warning", "drift", True, "warning"),
        ("sops/info", "sops", True, "info"),
    ]
    assert report.policy_results[2].canonical_scope == "invoices/staging"
    assert [(d.namespace, d.is_drifted, d.drift_count) for d in report.drift] == [
        ("invoices", True, 1)
    ]
    assert result.rejected_records == 0


def test_the_backfilled_push_keeps_its_unknown_branch() -> None:
    (report,) = mapped(example("otlp/report-push-backfilled-detached.json")).reports
    assert report.branch == ""
    assert report.commit_timestamp == 1_796_499_940_000


def test_file_paths_key_names_and_fix_commands_never_survive() -> None:
    forbidden = [
        "/home/runner/work/billing/billing/secrets/invoices/production.enc.yaml",
        "production.enc.yaml",
        "staging.enc.yaml",
        "dev.enc.yaml",
        "STRIPE_WEBHOOK_SECRET",
        "LEDGER_DSN",
        "age1x9v3cn0h7sdl2ut9lq6pxw8r4e5mdyj3kzf0wagh6c2ns8qt7k2qv9sx",
        "clef recipients add",
        "7k2qv9sx",
    ]
    for name in ("report-push", "report-push-backfilled-detached", "lint-push", "drift-push"):
        text = all_text(mapped(example(f"otlp/{name}.json")))
        for value in forbidden:
            assert value not in text, (name, value)


def test_a_key_name_is_cut_out_of_the_kept_message() -> None:
    (drift,) = mapped(example("otlp/drift-push.json")).drift
    assert drift.issues[0].message == (
        "Key [redacted] in namespace 'ledger' exists in remote [dev, staging] "
        "but is missing from [production]"
    )
    assert drift.by_namespace() == [
        {
            "namespace": "ledger",
            "keys": 1,
            "missingFrom": ["production"],
            "presentIn": ["dev", "staging"],
        }
    ]
    assert (drift.namespaces_compared, drift.namespaces_clean, drift.passed) == (3, 2, False)


def test_a_lint_push_keeps_counts_and_cleaned_issues() -> None:
    (lint,) = mapped(example("otlp/lint-push.json")).lint
    assert (lint.file_count, lint.pending_count, lint.error_count, lint.warning_count) == (
        9,
        1,
        1,
        1,
    )
    assert [issue.message for issue in lint.issues] == [
        "Missing required key [redacted]",
        "Expected recipient '[redacted]' is missing from encrypted file.",
    ]


def test_secret_shaped_text_in_a_message_is_redacted_not_refused() -> None:
    body = report_push(
        "a" * 40,
        issues=[
            issue_record(
                "error", "schema", "DB_PASSWORD=hunter2 found in /srv/app/config/prod.yaml"
            ),
        ],
    )
    (report,) = mapped(body).reports
    assert report.policy_results[0].message == "[redacted] found in [redacted]"


def test_unknown_attributes_are_dropped_and_their_values_cut_from_text() -> None:
    record = issue_record("warning", "matrix", "cell missing for team-secrets-vault")
    record["attributes"].append(attribute("clef.vaultPath", "team-secrets-vault"))
    body = report_push("b" * 40, issues=[record])
    body["resourceLogs"][0]["resource"]["attributes"].append(attribute("host.name", "runner-7"))
    result = mapped(body)
    assert result.reports[0].policy_results[0].message == "cell missing for [redacted]"
    assert result.dropped_attributes == 3  # clef.file, clef.vaultPath, host.name
    assert result.rejected_records == 0


def test_unknown_events_are_rejected_and_counted() -> None:
    body = report_push("c" * 40, issues=[])
    records = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.append({"timeUnixNano": "1", "attributes": [attribute("event.name", "clef.agent.up")]})
    records.append({"timeUnixNano": "1", "attributes": []})
    result = mapped(body)
    assert len(result.reports) == 1
    assert result.rejected_records == 2
    assert result.error_message().startswith("2 records of events Clef Pro does not take")


def test_a_report_push_without_a_commit_is_rejected_whole() -> None:
    body = report_push("", issues=[issue_record("error", "schema", "x")])
    result = mapped(body)
    assert result.reports == []
    assert result.rejected_records == 2


def test_a_push_far_ahead_of_the_server_is_rejected() -> None:
    body = report_push("d" * 40, issues=[], time_unix_nano=(PUSHED_MS + 2 * DAY_MS) * 1_000_000)
    result = mapped(body)
    assert result.reports == []
    assert result.rejected_records == 1


def test_a_collector_batch_of_several_pushes_splits_at_each_summary() -> None:
    first = report_push("e" * 40, issues=[issue_record("error", "schema", "one")])
    second = report_push(
        "f" * 40,
        issues=[issue_record("error", "schema", "two")],
        time_unix_nano=(PUSHED_MS + 1) * 1_000_000,
    )
    merged = copy.deepcopy(first)
    merged["resourceLogs"] += second["resourceLogs"]
    lint = example("otlp/lint-push.json")
    lint_records = lint["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    lint["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = lint_records + lint_records
    merged["resourceLogs"] += lint["resourceLogs"]
    result = mapped(merged)
    assert [r.commit_sha for r in result.reports] == ["e" * 40, "f" * 40]
    assert len(result.lint) == 2


def test_an_issue_that_disappears_from_a_report_push_resolves_its_alert() -> None:
    (report,) = mapped(report_push("a" * 40, issues=[])).reports
    open_alert = OpenAlert("1", AlertKey("schema/error", "payments/production"))
    (transition,) = evaluate([open_alert], report, covers_whole_repository=True)
    assert transition.event.value == "resolved"
    # The same report through the report API's rule of coverage resolves nothing.
    assert evaluate([open_alert], report) == []


def test_an_invalid_namespace_is_dropped_and_cut() -> None:
    record = issue_record("error", "schema", "bad in /etc/ns", namespace="/etc/ns")
    (report,) = mapped(report_push("a" * 40, issues=[record])).reports
    assert report.policy_results[0].canonical_scope == "*"
    assert report.policy_results[0].message == "bad in [redacted]"


@pytest.mark.parametrize("severity", ["fatal", "", "ERROR"])
def test_an_issue_of_an_unknown_severity_is_rejected(severity: str) -> None:
    result = mapped(report_push("a" * 40, issues=[issue_record(severity, "schema", "x")]))
    assert result.rejected_records == 1
    assert isinstance(result.reports[0], Report)
    assert result.reports[0].policy_results == []
