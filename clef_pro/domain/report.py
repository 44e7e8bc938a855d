"""The report: what one CI run of the Clef CLI submits for one commit.

Two generations of the same report are in the wild: the form the product spec
shows (string scopes, drift with ``severity`` and ``summary``) and the form the
CLI sends today (object scopes, drift with ``driftCount``, ``error`` severity).
Both are accepted; :meth:`Report.stored_body` turns either into the one form
Clef Pro keeps, so nothing downstream has to know there were two.

The server's clock enters validation through the validation context
(:func:`validation_context`): a commit timestamp far in the server's future
is refused, because the newest report drives the alerts and one forged
timestamp would otherwise hold the HEAD, and silence the integration, for
good.
"""

from __future__ import annotations

import enum
import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Self

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clef_pro.domain.scope import Scope
from clef_pro.domain.severity import HealthStatus, Severity, parse_severity
from clef_pro.domain.wire import (
    Count,
    Description,
    Message,
    Name,
    RuleId,
    Screened,
    Text64,
    Text200,
    WireModel,
    screen_line,
)

CommitSha = Annotated[
    str,
    Field(strict=True, pattern=r"^[0-9a-fA-F]{7,64}$"),
    BeforeValidator(lambda v: v.lower() if isinstance(v, str) else v),
]
WireSeverity = Annotated[
    Severity, BeforeValidator(lambda v: parse_severity(v) if isinstance(v, str) else v)
]
#: GitHub's merge queue names its branches after the head commit
#: (``gh-readonly-queue/<base>/pr-<number>-<sha>``): that sha is a commit id,
#: not a fingerprint, and the one 40-hex run a branch name may carry.
_MERGE_QUEUE_PREFIX = "gh-readonly-queue/"
_LOWER_HEX = frozenset("0123456789abcdef")


def _screened_branch(value: str) -> str:
    head, _, sha = value.rpartition("-")
    queued = (
        value.startswith(_MERGE_QUEUE_PREFIX)
        and "/pr-" in head
        and len(sha) == 40
        and _LOWER_HEX.issuperset(sha)
    )
    screen_line(head if queued else value)
    return value


#: A git branch name, or ``""`` for an unknown branch: the CLI on a detached
#: HEAD (every commit the report API's client backfills, GitLab CI's checkouts).
BranchName = Annotated[
    str,
    Field(strict=True, max_length=255, pattern=r"^[^\s~^:?*\[\\\x00-\x1f]*$"),
    AfterValidator(_screened_branch),
]
UNKNOWN_BRANCH: Final = ""
#: A link to the CI run: a URL is expected here, but not one whose host or
#: path carries a secret shape (a vault, a key, credentials).
PipelineUrl = Annotated[
    str, Field(strict=True, max_length=2048, pattern=r"^https?://\S+$"), Screened
]
ScopeString = Annotated[str, Field(strict=True, max_length=300), Screened]


def _scope_form(value: Any) -> str:
    # A dict on the way in, a ScopeObject on the way out (serialising).
    return "object" if isinstance(value, dict | BaseModel) else "string"


#: The two forms of a scope, told apart by the input's type rather than by
#: trying each, so an error names one form. The tags are the members' names
#: in error locations (the API leaves them out of the paths it reports).
SCOPE_FORMS: Final = ("object", "string")

#: Epoch milliseconds up to the year 9999; anything larger is a unit mistake.
MAX_TIMESTAMP_MS = 253_402_300_799_999

_CLOCK: Final = "clef_pro.server_clock"


@dataclass(frozen=True, slots=True)
class ServerClock:
    """The server's time as validation sees it, and how far ahead a commit may be."""

    now_ms: int
    max_future_ms: int

    @property
    def latest_commit_ms(self) -> int:
        return self.now_ms + self.max_future_ms


def validation_context(clock: ServerClock) -> dict[str, Any]:
    """Pass as ``context=`` when validating reports that arrive now."""
    return {_CLOCK: clock}


class Cell(WireModel):
    namespace: Name
    environment: Name
    health_status: HealthStatus
    description: Description


class Summary(WireModel):
    files_scanned: Count
    namespaces: Annotated[list[Name], Field(max_length=1000)]
    environments: Annotated[list[Name], Field(max_length=200)]
    cells: Annotated[list[Cell], Field(max_length=20_000)]
    violations: Count
    passed: StrictBool


class Drift(WireModel):
    namespace: Name
    is_drifted: StrictBool
    drift_count: Count | None = None
    severity: WireSeverity | None = None
    summary: Description | None = None

    @model_validator(mode="after")
    def _has_a_measure(self) -> Self:
        if self.drift_count is None and (self.severity is None or self.summary is None):
            raise ValueError("drift needs driftCount, or severity and summary")
        return self


class ScopeObject(WireModel):
    namespace: Name | None = None
    environment: Name | None = None


ScopeValue = Annotated[
    Annotated[ScopeObject, Tag("object")] | Annotated[ScopeString, Tag("string")],
    Discriminator(_scope_form),
]


class PolicyResult(WireModel):
    rule_id: RuleId
    rule_name: Text200
    passed: StrictBool
    severity: WireSeverity
    message: Message
    scope: ScopeValue | None = None

    @model_validator(mode="after")
    def _scope_is_readable(self) -> Self:
        self.canonical_scope  # noqa: B018 - raises ValueError on a malformed string scope
        return self

    # Parsed once: validation, storing and the alert lifecycle each read it,
    # about one report's CPU in seventy when parsed at every read. The model
    # is frozen; a copy made with another ``scope`` (``model_copy(update=)``,
    # which does not validate) would keep this one, so make it by validating.
    @functools.cached_property
    def scope_value(self) -> Scope:
        if self.scope is None:
            return Scope()
        if isinstance(self.scope, ScopeObject):
            return Scope.of(self.scope.namespace, self.scope.environment)
        return Scope.parse(self.scope)

    @property
    def canonical_scope(self) -> str:
        return self.scope_value.canonical


class CIContext(WireModel):
    provider: Text64
    pipeline_url: PipelineUrl | None = None
    trigger: Text64 | None = None


class Report(WireModel):
    commit_sha: CommitSha
    branch: BranchName
    commit_timestamp: Annotated[StrictInt, Field(ge=0, le=MAX_TIMESTAMP_MS)]
    cli_version: Text64
    summary: Summary
    drift: Annotated[list[Drift], Field(max_length=1000)]
    policy_results: Annotated[list[PolicyResult], Field(max_length=20_000)]
    ci_context: CIContext | None = None
    #: The name Clef's "CLI Integration" page gives ``ciContext``; never stored as such.
    ci: Annotated[CIContext | None, Field(exclude=True)] = None

    @field_validator("commit_timestamp")
    @classmethod
    def _not_far_ahead_of_the_server(cls, value: int, info: ValidationInfo) -> int:
        clock = info.context.get(_CLOCK) if isinstance(info.context, dict) else None
        if isinstance(clock, ServerClock) and value > clock.latest_commit_ms:
            hours = clock.max_future_ms / 3_600_000
            raise ValueError(
                f"is more than {hours:g} h ahead of the server's clock; "
                "check the CI machine's clock (commitTimestamp is in epoch milliseconds)"
            )
        return value

    @model_validator(mode="after")
    def _one_ci_context(self) -> Self:
        if self.ci is not None and self.ci_context is not None:
            raise ValueError("ci and ciContext are two names of one object: send one of them")
        return self

    @property
    def ci_context_value(self) -> CIContext | None:
        return self.ci_context if self.ci_context is not None else self.ci

    @property
    def is_on_unknown_branch(self) -> bool:
        return self.branch == UNKNOWN_BRANCH

    def stored_body(self, *, keep_ci_context: bool) -> dict[str, Any]:
        """The one normalised form that is stored: canonical scopes and
        severities, absent optional fields left out, and ``ciContext`` (under
        that name, whichever was sent) only if the integration collects it."""
        body = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for result, parsed in zip(body["policyResults"], self.policy_results, strict=True):
            result["scope"] = parsed.canonical_scope
        ci_context = self.ci_context_value
        if keep_ci_context and ci_context is not None:
            body["ciContext"] = ci_context.model_dump(mode="json", by_alias=True, exclude_none=True)
        else:
            body.pop("ciContext", None)
        return body


class Protocol(enum.StrEnum):
    """Which door a report came through. Both make the same reports and alerts;
    an OTLP report push covers the whole repository and sends no matrix cells."""

    REPORT_API = "report-api"
    OTLP = "otlp"


class ReportBatch(WireModel):
    """Oldest first. Limited by the body's size only: the client puts a whole
    gap into one batch and never splits it."""

    reports: Annotated[list[Report], Field(min_length=1)]


def newest_named_branch(newest_first: Iterable[str]) -> str:
    """The branch that reports submitted together on an unknown branch take:
    the newest one named (submitted together, they are the backfilled
    ancestors of that HEAD), or unknown if none is."""
    return next((branch for branch in newest_first if branch != UNKNOWN_BRANCH), UNKNOWN_BRANCH)


def inherit_branches(reports: Sequence[Report]) -> list[Report]:
    """Reports submitted together, with an unknown branch resolved
    (:func:`newest_named_branch`)."""
    named = newest_named_branch(report.branch for report in reversed(reports))
    if named == UNKNOWN_BRANCH:
        return list(reports)
    return [
        report.model_copy(update={"branch": named}) if report.is_on_unknown_branch else report
        for report in reports
    ]


def canonical_json(body: Any) -> bytes:
    """The canonical JSON of a stored body (or of any part of one): sorted
    keys, no spaces, UTF-8. What :func:`content_digest` digests.

    Byte for byte what ``json.dumps(body, sort_keys=True, separators=(",",
    ":"), ensure_ascii=False)`` writes, which made the digests already
    stored, for every value a body holds: strings, integers, booleans, null,
    arrays and objects. (Floats would be written differently, ``1e16`` for
    ``1e+16``; no wire schema has one.) msgspec writes it in a seventh of the
    time, which a 10,000-report batch spends twice per report.
    """
    return msgspec.json.encode(body, order="sorted")


def canonical_digest(canonical: bytes) -> str:
    """:func:`content_digest` of a body already in :func:`canonical_json` form."""
    return hashlib.sha256(canonical).hexdigest()


def content_digest(body: dict[str, Any]) -> str:
    """A stable digest of a stored body: equal digests mean a replay."""
    return canonical_digest(canonical_json(body))
