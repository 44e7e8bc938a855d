"""Today's CLI: OTLP log pushes mapped onto reports, lint results and drift results.

Since 0.1.9 the Clef CLI pushes OpenTelemetry logs (``clef report|lint|drift
--push``) instead of calling the report API. This module turns the records of
one ``ExportLogsServiceRequest`` (decoded elsewhere, from JSON or protobuf,
into :class:`ResourceRecords`) into what Clef Pro keeps:

- a report push becomes a :class:`~clef_pro.domain.report.Report` of its
  commit, its issues policy results exactly as the report API's CLI form makes
  them (``ruleId`` ``<category>/<severity>``, ``ruleName`` the category,
  ``passed`` false only for ``error``), so a repository's alerts are the same
  whichever protocol its CLI speaks;
- lint and drift pushes become :class:`LintResult` and :class:`DriftResult`.

The security model at this door is *drop, don't refuse*: the client cannot be
changed and a refusal fails the user's CI job. Only the attributes the
contract lists for each event are kept, never ``clef.file``, ``clef.key`` or
``clef.fixCommand``; every dropped value (a path, its file name, a key name, a
fix command and the recipients in it) is cut out of the text that is kept;
then screening redacts whatever else is secret-shaped. Nothing here ever
carries a dropped value out, not even into an error message: the counts say
what was dropped, never what.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import ValidationError

from clef_pro.domain.report import Report
from clef_pro.domain.scope import NAME_PATTERN
from clef_pro.domain.screening import (
    REDACTED,
    find_secret_shape,
    redact,
    strip_control_characters,
)

AttributeValue = str | int | bool | float

#: Attributes a client sends about itself and its commit (resource attributes).
RESOURCE_ATTRIBUTES: Final = frozenset(
    {"service.name", "service.version", "clef.repo.origin", "clef.repo.commit", "clef.repo.branch"}
)
#: Per event, the attributes that are kept; anything else is dropped.
EVENT_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "clef.report.summary": frozenset(
        {
            "clef.errorCount",
            "clef.warningCount",
            "clef.infoCount",
            "clef.matrixCells",
            "clef.passed",
        }
    ),
    "clef.report.issue": frozenset(
        {"clef.severity", "clef.category", "clef.message", "clef.namespace", "clef.environment"}
    ),
    "clef.lint.summary": frozenset(
        {
            "clef.fileCount",
            "clef.pendingCount",
            "clef.errorCount",
            "clef.warningCount",
            "clef.infoCount",
            "clef.passed",
        }
    ),
    "clef.lint.issue": frozenset({"clef.severity", "clef.category", "clef.message"}),
    "clef.drift.summary": frozenset(
        {"clef.namespacesCompared", "clef.namespacesClean", "clef.issueCount", "clef.passed"}
    ),
    "clef.drift.issue": frozenset(
        {"clef.namespace", "clef.presentIn", "clef.missingFrom", "clef.message"}
    ),
}
#: Never kept, whatever an event's list says: they are the data Clef Pro never holds.
FORBIDDEN_ATTRIBUTES: Final = frozenset({"clef.file", "clef.key", "clef.fixCommand"})
EVENT_NAME: Final = "event.name"
SEVERITIES: Final = ("error", "warning", "info")
MAX_MESSAGE: Final = 1000
MAX_COUNT: Final = 10_000_000
UNKNOWN_CLI_VERSION: Final = "unknown"

_NAME = re.compile(NAME_PATTERN)
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_SHA = re.compile(r"^[0-9a-fA-F]{7,64}$")
_BRANCH = re.compile(r"^[^\s~^:?*\[\\\x00-\x1f]{1,255}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")
#: A CLI's own abbreviation of a long identifier: ``age1…7k2qv9sx``.
_ABBREVIATION = re.compile(r"(\w{2,16})\u2026(\w{4,})")
#: Dropped values shorter than this are not cut out of text (a forbidden one
#: always is): cutting every two-letter word of a message helps no one.
_SHORTEST_CUT: Final = 4


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One decoded OTLP log record: only what the mapping reads."""

    time_unix_nano: int
    severity_text: str
    body: str | None
    attributes: Mapping[str, AttributeValue]
    #: Attributes of kinds no Clef event uses (arrays, maps, bytes): dropped.
    unreadable_attributes: int = 0


@dataclass(frozen=True, slots=True)
class ResourceRecords:
    """The records of one ``resourceLogs`` entry (all its scopes, in order)."""

    resource: Mapping[str, AttributeValue]
    records: Sequence[LogRecord]
    unreadable_attributes: int = 0


@dataclass(frozen=True, slots=True)
class LintIssue:
    severity: str
    category: str
    message: str

    def to_document(self) -> dict[str, str]:
        return {"severity": self.severity, "category": self.category, "message": self.message}


@dataclass(frozen=True, slots=True)
class LintResult:
    """``clef lint --push``: the repository's lint, at push time; no commit."""

    pushed_at_ms: int
    cli_version: str
    file_count: int
    pending_count: int
    error_count: int
    warning_count: int
    info_count: int
    passed: bool
    issues: tuple[LintIssue, ...]

    def to_document(self) -> dict[str, Any]:
        return {"issues": [issue.to_document() for issue in self.issues]}


@dataclass(frozen=True, slots=True)
class DriftIssue:
    """A key present in some environments and missing from others: which
    namespace and which environments, never which key."""

    namespace: str
    present_in: tuple[str, ...]
    missing_from: tuple[str, ...]
    message: str


@dataclass(frozen=True, slots=True)
class DriftResult:
    """``clef drift --push``: drift between environments, at push time; no commit."""

    pushed_at_ms: int
    cli_version: str
    namespaces_compared: int
    namespaces_clean: int
    issue_count: int
    passed: bool
    issues: tuple[DriftIssue, ...]

    def by_namespace(self) -> list[dict[str, Any]]:
        """Per drifted namespace: how many keys drift, and the environments
        they are missing from and present in."""
        grouped: dict[str, dict[str, Any]] = {}
        for issue in self.issues:
            entry = grouped.setdefault(
                issue.namespace,
                {"namespace": issue.namespace, "keys": 0, "missingFrom": set(), "presentIn": set()},
            )
            entry["keys"] += 1
            entry["missingFrom"].update(issue.missing_from)
            entry["presentIn"].update(issue.present_in)
        return [
            {
                **entry,
                "missingFrom": sorted(entry["missingFrom"]),
                "presentIn": sorted(entry["presentIn"]),
            }
            for _, entry in sorted(grouped.items())
        ]

    def to_document(self) -> dict[str, Any]:
        return {
            "namespaces": self.by_namespace(),
            "issues": [
                {
                    "namespace": issue.namespace,
                    "presentIn": list(issue.present_in),
                    "missingFrom": list(issue.missing_from),
                    "message": issue.message,
                }
                for issue in self.issues
            ],
        }


@dataclass(slots=True)
class Mapped:
    """What one request holds for Clef Pro, and what was dropped on the way."""

    #: Report pushes, in push order (oldest first).
    reports: list[Report] = field(default_factory=list)
    lint: list[LintResult] = field(default_factory=list)
    drift: list[DriftResult] = field(default_factory=list)
    #: Records not taken: unknown events, or pushes that cannot be a result.
    rejected_records: int = 0
    #: Attributes dropped from records that were taken (forbidden or unlisted).
    dropped_attributes: int = 0
    #: Why records were rejected: fixed phrases with counts, never a value.
    reasons: Counter[str] = field(default_factory=Counter)

    def reject(self, records: int, reason: str) -> None:
        self.rejected_records += records
        self.reasons[reason] += records

    def error_message(self) -> str:
        parts = [f"{count} {reason}" for reason, count in sorted(self.reasons.items())]
        if self.dropped_attributes:
            parts.append(
                f"{self.dropped_attributes} attributes dropped (file paths, key names, "
                "fix commands and attributes not in the contract are never kept)"
            )
        return "; ".join(parts)


# --------------------------------------------------------------------------- text


@dataclass(slots=True)
class _Cutter:
    """Cuts dropped values out of text that is kept, then redacts what is left."""

    values: list[str] = field(default_factory=list)

    def add(self, value: AttributeValue, *, forbidden: bool) -> None:
        if not isinstance(value, str):
            return
        text = strip_control_characters(value).strip()
        if not text or (not forbidden and len(text) < _SHORTEST_CUT):
            return
        self.values.append(text)
        if forbidden:
            self.values.extend(_derived_values(text))

    def copy(self) -> _Cutter:
        return _Cutter(list(self.values))

    def clean(self, text: str) -> str:
        # A NUL cannot be stored in PostgreSQL (SQLite would keep it); a control
        # character or lone surrogate can also hide a value from the cuts below.
        text = strip_control_characters(text)
        for value in sorted(set(self.values), key=len, reverse=True):
            if value in text:
                text = _cut(text, value)
        text = _cut_abbreviations(text, self.values)
        text = redact(text)
        return text[: MAX_MESSAGE - 1] + "\u2026" if len(text) > MAX_MESSAGE else text


def _derived_values(value: str) -> list[str]:
    """What else a dropped value shows up as in a message: a path's file name
    and shorter relative forms, the arguments of a fix command."""
    derived: list[str] = []
    if "/" in value or "\\" in value:
        parts = [part for part in re.split(r"[/\\]", value) if part]
        derived.extend("/".join(parts[index:]) for index in range(1, len(parts)))
    if " " in value:
        # The identifiers in a command (recipients, key names, ARNs), not its words.
        derived.extend(token for token in value.split() if _is_identifier(token))
    return [item for item in derived if len(item) >= 2]


def _is_identifier(token: str) -> bool:
    """A recipient, fingerprint, ARN or KEY_NAME in a command, not a word or a flag."""
    if len(token) < 2 or token.startswith("-"):
        return False
    return token.isupper() or any(char.isdigit() or char in "_:/." for char in token)


def _cut(text: str, value: str) -> str:
    escaped = re.escape(value)
    text = re.sub(rf"(['\"`]){escaped}\1", REDACTED, text)
    return re.sub(rf"(?<![\w/.\\-]){escaped}(?![\w/\\-])", REDACTED, text)


def _cut_abbreviations(text: str, values: Iterable[str]) -> str:
    """``age1…7k2qv9sx`` where a dropped value starts and ends like that."""
    tokens = [value for value in values if len(value) >= 16]
    if not tokens or "\u2026" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        head, tail = match.group(1), match.group(2)
        for token in tokens:
            if token.startswith(head) and token.endswith(tail):
                return REDACTED
        return match.group(0)

    return _ABBREVIATION.sub(replace, text)


# -------------------------------------------------------------------------- values


def _count(value: AttributeValue | None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= MAX_COUNT else None


def _flag(value: AttributeValue | None) -> bool | None:
    return value if isinstance(value, bool) else None


def _name(value: AttributeValue | None) -> str | None:
    if isinstance(value, str) and _NAME.match(value) and find_secret_shape(value) is None:
        return value
    return None


def _names(value: AttributeValue | None) -> tuple[str, ...]:
    if not isinstance(value, str):
        return ()
    return tuple(name for part in value.split(",") if (name := _name(part.strip())) is not None)


def _cli_version(resource: Mapping[str, AttributeValue]) -> str:
    version = resource.get("service.version")
    if isinstance(version, str) and _VERSION.match(version) and find_secret_shape(version) is None:
        return version
    return UNKNOWN_CLI_VERSION


# -------------------------------------------------------------------------- events


@dataclass(slots=True)
class _Group:
    """The records of one push of one kind: its summary and its issues."""

    kind: str
    summary: LogRecord | None = None
    issues: list[LogRecord] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.issues) + (self.summary is not None)

    @property
    def time_unix_nano(self) -> int:
        times = [r.time_unix_nano for r in (self.summary, *self.issues) if r is not None]
        return next((t for t in times if t > 0), 0)


def _kind_of(event: str) -> tuple[str, str] | None:
    parts = event.split(".")
    if (
        len(parts) == 3
        and parts[0] == "clef"
        and parts[1] in ("report", "lint", "drift")
        and parts[2] in ("summary", "issue")
    ):
        return parts[1], parts[2]
    return None


def _groups(records: Sequence[LogRecord], mapped: Mapped) -> list[_Group]:
    """Split records into pushes: a summary starts one, issues follow it.

    A collector may merge several pushes of one resource into one request;
    each summary then starts the next push of its kind.
    """
    groups: list[_Group] = []
    open_group: dict[str, _Group] = {}
    for record in records:
        event = record.attributes.get(EVENT_NAME)
        kind = _kind_of(event) if isinstance(event, str) else None
        if kind is None:
            mapped.reject(1, "records of events Clef Pro does not take")
            continue
        name, part = kind
        group = open_group.get(name)
        if part == "summary" or group is None:
            if part == "summary" and group is not None and group.summary is None:
                group.summary = record
                continue
            group = _Group(name)
            open_group[name] = group
            groups.append(group)
        if part == "summary":
            group.summary = record
        else:
            group.issues.append(record)
    return groups


def _kept(
    record: LogRecord, event: str, cutter: _Cutter, mapped: Mapped
) -> dict[str, AttributeValue]:
    """The attributes of ``record`` the contract lists for ``event``; every
    other value goes to ``cutter`` to be cut out of kept text."""
    allowed = EVENT_ATTRIBUTES[event]
    kept: dict[str, AttributeValue] = {}
    mapped.dropped_attributes += record.unreadable_attributes
    for key, value in record.attributes.items():
        if key == EVENT_NAME:
            continue
        if key in allowed and key not in FORBIDDEN_ATTRIBUTES:
            kept[key] = value
        else:
            mapped.dropped_attributes += 1
            cutter.add(value, forbidden=key in FORBIDDEN_ATTRIBUTES or key.startswith("clef."))
    return kept


def _message(kept: Mapping[str, AttributeValue], record: LogRecord, cutter: _Cutter) -> str:
    message = kept.get("clef.message")
    text = message if isinstance(message, str) else (record.body or "")
    return cutter.clean(text)


def _issue_fields(
    record: LogRecord, event: str, cutter: _Cutter, mapped: Mapped
) -> tuple[dict[str, AttributeValue], str | None, str | None]:
    kept = _kept(record, event, cutter, mapped)
    severity = kept.get("clef.severity")
    category = kept.get("clef.category")
    return (
        kept,
        severity if isinstance(severity, str) and severity in SEVERITIES else None,
        category
        if isinstance(category, str)
        and _CATEGORY.match(category)
        and find_secret_shape(category) is None
        else None,
    )


def _cut_invalid_name(
    kept: dict[str, AttributeValue], key: str, cutter: _Cutter, mapped: Mapped
) -> str | None:
    value = kept.get(key)
    name = _name(value)
    if value is not None and name is None:
        mapped.dropped_attributes += 1
        cutter.add(value, forbidden=True)
    return name


@dataclass(frozen=True, slots=True)
class _Push:
    """What every push of one resource shares."""

    #: The kept resource attributes.
    resource: Mapping[str, AttributeValue]
    #: Holds the resource's dropped values; each push adds its own.
    cutter: _Cutter
    pushed_at_ms: int


@dataclass(frozen=True, slots=True)
class _ReportIssue:
    record: LogRecord
    kept: Mapping[str, AttributeValue]
    severity: str
    category: str
    namespace: str | None
    environment: str | None


def _branch(resource: Mapping[str, AttributeValue]) -> str:
    """The push's branch; ``""`` (unknown) for a detached HEAD or anything unreadable."""
    branch = resource.get("clef.repo.branch")
    if isinstance(branch, str) and _BRANCH.match(branch) and find_secret_shape(branch) is None:
        return branch
    return ""


def _report(group: _Group, push: _Push, mapped: Mapped) -> Report | None:
    resource, cutter = push.resource, push.cutter
    commit = resource.get("clef.repo.commit")
    if not isinstance(commit, str) or not _SHA.match(commit):
        mapped.reject(group.records, "records of report pushes without a commit sha")
        return None
    # First every record's dropped values, then the kept text: a value dropped
    # from one record may be named in another's message.
    issues: list[_ReportIssue] = []
    for record in group.issues:
        kept, severity, category = _issue_fields(record, "clef.report.issue", cutter, mapped)
        if severity is None or category is None:
            mapped.reject(1, "report issues without a readable severity or category")
            continue
        issues.append(
            _ReportIssue(
                record,
                kept,
                severity,
                category,
                _cut_invalid_name(kept, "clef.namespace", cutter, mapped),
                _cut_invalid_name(kept, "clef.environment", cutter, mapped),
            )
        )
    summary = _kept(group.summary, "clef.report.summary", cutter, mapped) if group.summary else {}

    namespaces = sorted({issue.namespace for issue in issues if issue.namespace})
    drifting = Counter(
        issue.namespace for issue in issues if issue.category == "drift" and issue.namespace
    )
    errors = sum(1 for issue in issues if issue.severity == "error")
    passed = _flag(summary.get("clef.passed"))
    body = {
        "commitSha": commit,
        "branch": _branch(resource),
        "commitTimestamp": push.pushed_at_ms,
        "cliVersion": _cli_version(resource),
        "summary": {
            "filesScanned": _or(_count(summary.get("clef.matrixCells")), 0),
            "namespaces": namespaces,
            "environments": sorted({issue.environment for issue in issues if issue.environment}),
            # A report push sends no cells; the matrix says so.
            "cells": [],
            "violations": _or(_count(summary.get("clef.errorCount")), errors),
            "passed": passed if passed is not None else errors == 0,
        },
        # As the report API's client derives it: per namespace, its drift issues.
        "drift": [
            {"namespace": ns, "isDrifted": drifting[ns] > 0, "driftCount": drifting[ns]}
            for ns in namespaces
        ],
        "policyResults": [_policy_result(issue, cutter) for issue in issues],
    }
    try:
        return Report.model_validate(body)
    except ValidationError:
        # Everything was cleaned to fit; a report that still does not is
        # taken by no one rather than half kept.
        mapped.reject(group.records, "records of report pushes that could not be read")
        return None


def _policy_result(issue: _ReportIssue, cutter: _Cutter) -> dict[str, Any]:
    """The report API's CLI form of one issue (its ``ReportTransformer``)."""
    result: dict[str, Any] = {
        "ruleId": f"{issue.category}/{issue.severity}",
        "ruleName": issue.category,
        "passed": issue.severity != "error",
        "severity": issue.severity,
        "message": _message(issue.kept, issue.record, cutter),
    }
    scope = {
        part: value
        for part, value in (("namespace", issue.namespace), ("environment", issue.environment))
        if value is not None
    }
    if scope:
        result["scope"] = scope
    return result


def _lint(group: _Group, push: _Push, mapped: Mapped) -> LintResult:
    cutter = push.cutter
    kept_issues: list[LintIssue] = []
    prepared = []
    for record in group.issues:
        kept, severity, category = _issue_fields(record, "clef.lint.issue", cutter, mapped)
        if severity is None or category is None:
            mapped.reject(1, "lint issues without a readable severity or category")
            continue
        prepared.append((kept, record, severity, category))
    summary = _kept(group.summary, "clef.lint.summary", cutter, mapped) if group.summary else {}
    for kept, record, severity, category in prepared:
        kept_issues.append(LintIssue(severity, category, _message(kept, record, cutter)))
    by_severity = Counter(issue.severity for issue in kept_issues)
    errors = _count(summary.get("clef.errorCount"))
    passed = _flag(summary.get("clef.passed"))
    return LintResult(
        pushed_at_ms=push.pushed_at_ms,
        cli_version=_cli_version(push.resource),
        file_count=_count(summary.get("clef.fileCount")) or 0,
        pending_count=_count(summary.get("clef.pendingCount")) or 0,
        error_count=errors if errors is not None else by_severity["error"],
        warning_count=_or(_count(summary.get("clef.warningCount")), by_severity["warning"]),
        info_count=_or(_count(summary.get("clef.infoCount")), by_severity["info"]),
        passed=passed if passed is not None else by_severity["error"] == 0,
        issues=tuple(kept_issues),
    )


def _or(value: int | None, default: int) -> int:
    return value if value is not None else default


def _drift(group: _Group, push: _Push, mapped: Mapped) -> DriftResult:
    cutter = push.cutter
    prepared = []
    for record in group.issues:
        kept = _kept(record, "clef.drift.issue", cutter, mapped)
        namespace = _cut_invalid_name(kept, "clef.namespace", cutter, mapped)
        if namespace is None:
            mapped.reject(1, "drift issues without a readable namespace")
            continue
        prepared.append((kept, record, namespace))
    summary = _kept(group.summary, "clef.drift.summary", cutter, mapped) if group.summary else {}
    issues = tuple(
        DriftIssue(
            namespace=namespace,
            present_in=_names(kept.get("clef.presentIn")),
            missing_from=_names(kept.get("clef.missingFrom")),
            message=_message(kept, record, cutter),
        )
        for kept, record, namespace in prepared
    )
    count = _count(summary.get("clef.issueCount"))
    passed = _flag(summary.get("clef.passed"))
    return DriftResult(
        pushed_at_ms=push.pushed_at_ms,
        cli_version=_cli_version(push.resource),
        namespaces_compared=_count(summary.get("clef.namespacesCompared")) or 0,
        namespaces_clean=_count(summary.get("clef.namespacesClean")) or 0,
        issue_count=count if count is not None else len(issues),
        passed=passed if passed is not None else not issues,
        issues=issues,
    )


def map_request(
    resources: Iterable[ResourceRecords], *, received_at_ms: int, max_future_ms: int
) -> Mapped:
    """Map one request's records onto reports, lint and drift results.

    A push without a time takes ``received_at_ms``; a report push more than
    ``max_future_ms`` ahead of it is rejected (its push time orders the
    integration's reports, so a forged one would hold the HEAD).
    """
    mapped = Mapped()
    for entry in resources:
        resource_cutter = _Cutter()
        resource: dict[str, AttributeValue] = {}
        mapped.dropped_attributes += entry.unreadable_attributes
        for key, value in entry.resource.items():
            if key in RESOURCE_ATTRIBUTES:
                resource[key] = value
            else:
                mapped.dropped_attributes += 1
                resource_cutter.add(value, forbidden=key.startswith("clef."))
        for group in _groups(entry.records, mapped):
            pushed_at_ms = group.time_unix_nano // 1_000_000 or received_at_ms
            if pushed_at_ms > received_at_ms + max_future_ms:
                mapped.reject(group.records, "records pushed with a time far ahead of the server")
                continue
            context = _Push(resource, resource_cutter.copy(), pushed_at_ms)
            if group.kind == "report":
                report = _report(group, context, mapped)
                if report is not None:
                    mapped.reports.append(report)
            elif group.kind == "lint":
                mapped.lint.append(_lint(group, context, mapped))
            else:
                mapped.drift.append(_drift(group, context, mapped))
    mapped.reports.sort(key=lambda report: report.commit_timestamp)
    return mapped
