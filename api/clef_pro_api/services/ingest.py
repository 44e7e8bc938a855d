"""Taking reports in: store, pick the HEAD, run the alert lifecycle and queue its
notifications, in one transaction.

Both doors (the report API and OTLP) call :func:`ingest`, the one entry point,
so a report means the same whichever protocol carried it.

Everything one submission changes happens under a row lock on its
integration, so concurrent submissions from several replicas are applied one
after the other: two can never open the same alert twice or lose a
resolution. The caller commits; an exception anywhere leaves nothing stored.

A batch's history (every report but the last, which alone may move the HEAD)
is written in chunks of multi-row statements, never one ORM object per
report, so a 10,000-report backfill costs a few dozen round trips and its
memory stays bounded by a chunk. It arrives as :class:`HistoryReport` items:
reports already validated, each kept as its stored body in JSON bytes and the
few columns the statements need. A 32 MiB batch so waits for storage as about
as many bytes, not as hundreds of thousands of Python objects that every
garbage collection would walk, with the GIL held, while the service has other
requests to answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Final, NamedTuple

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clef_pro.domain import lifecycle
from clef_pro.domain.config import IntegrationConfig
from clef_pro.domain.report import (
    UNKNOWN_BRANCH,
    Protocol,
    Report,
    content_digest,
    newest_named_branch,
)
from clef_pro_api.services import outbox
from clef_pro_api.services.errors import NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow

#: Reports per multi-row statement (and per lookup of already stored commits).
CHUNK: Final = 500


class HistoryReport(NamedTuple):
    """A validated report of a batch's history, compact until it is stored.

    ``body`` is the stored body as JSON, with ``ciContext`` whenever one was
    sent (whether it is kept depends on the integration, known only under
    its lock) and the branch as sent (an unknown one is resolved with the
    whole batch in view).

    A tuple of strings, numbers and bytes, which the garbage collector stops
    tracking: thousands of them waiting for storage cost it nothing.
    """

    commit_sha: str
    branch: str
    commit_timestamp: int
    passed: bool
    violations: int
    body: bytes

    @classmethod
    def of(cls, report: Report) -> HistoryReport:
        body = report.stored_body(keep_ci_context=True)
        return cls(
            commit_sha=report.commit_sha,
            branch=report.branch,
            commit_timestamp=report.commit_timestamp,
            passed=report.summary.passed,
            violations=report.summary.violations,
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        )


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """One alert event a HEAD report caused, as the notification pipeline needs it."""

    event: lifecycle.AlertEvent
    alert: models.Alert


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: str
    commit_sha: str


@dataclass(slots=True)
class IngestResult:
    #: One per submitted report, in order (a repeated commit repeats its id).
    reports: list[StoredReport]
    #: The report that became HEAD and drove the lifecycle, if any did.
    head: models.Report | None = None
    events: list[AppliedEvent] = field(default_factory=list)
    #: Outbox messages the HEAD's events queued, committed with the report.
    notifications: list[models.Notification] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Known:
    """What is stored of a commit: enough to tell a replay from a change."""

    id: str
    digest: str
    commit_timestamp: int


def lock_integration(session: Session, integration_id: str) -> models.Integration:
    """Take the per-integration lock that serialises all of its ingestion."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None or integration.deleted_at is not None:
        raise NotFound(integration_id)
    return integration


def ingest(
    session: Session,
    integration_id: str,
    reports: Sequence[Report],
    *,
    protocol: Protocol = Protocol.REPORT_API,
) -> IngestResult:
    """Store ``reports`` (oldest first); only the last may move the HEAD.

    A report whose commit is already stored with the same content is a replay:
    it keeps its id and changes nothing, so a retry never notifies twice.
    Reports on an unknown branch take the branch of the newest one that names
    one. An OTLP report push orders by its push time, so a commit pushed again
    keeps the place its first push gave it.
    """
    *history, last = reports
    return ingest_batch(
        session,
        integration_id,
        [HistoryReport.of(report) for report in history],
        last,
        protocol=protocol,
    )


def ingest_batch(
    session: Session,
    integration_id: str,
    history: Sequence[HistoryReport],
    last: Report,
    *,
    protocol: Protocol = Protocol.REPORT_API,
) -> IngestResult:
    """:func:`ingest` of ``history`` (oldest first) followed by ``last``.

    Reports on an unknown branch take the branch of the newest report that
    names one (``last``, or else the newest of the history that does).
    """
    integration = lock_integration(session, integration_id)
    config = IntegrationConfig.model_validate(integration.config)
    named = newest_named_branch(chain((last.branch,), (item.branch for item in reversed(history))))
    if last.is_on_unknown_branch and named != UNKNOWN_BRANCH:
        last = last.model_copy(update={"branch": named})

    known: dict[str, _Known] = {}
    stored: list[StoredReport] = []
    for chunk in _chunks(history):
        stored.extend(
            _store_chunk(
                session, integration.id, config, chunk, known, branch=named, protocol=protocol
            )
        )

    row, changed = _store_one(session, integration, config, last, known, protocol=protocol)
    stored.append(StoredReport(row.id, row.commit_sha))
    result = IngestResult(reports=stored)
    if changed and config.tracks(row.branch) and _is_new_head(session, integration, row):
        now = utcnow()
        integration.head_report_id = row.id
        # A report arrived: the integration is not silent (expectReportsEvery).
        integration.last_head_at = now
        window = config.silent_after
        integration.silence_check_at = now + window if window is not None else None
        result.head = row
        result.events = _apply_lifecycle(
            session,
            integration,
            row,
            last,
            resubmitted=changed == _CHANGED,
            covers_whole_repository=protocol is Protocol.OTLP,
            now=now,
        )
        result.notifications = outbox.enqueue(
            session, integration, config, row, result.events, now=now
        )
    return result


def _chunks(reports: Sequence[HistoryReport]) -> Iterator[Sequence[HistoryReport]]:
    for start in range(0, len(reports), CHUNK):
        yield reports[start : start + CHUNK]


def _lookup(
    session: Session, integration_id: str, shas: set[str], known: dict[str, _Known]
) -> None:
    missing = shas - known.keys()
    if not missing:
        return
    for report_id, commit_sha, digest, timestamp in session.execute(
        select(
            models.Report.id,
            models.Report.commit_sha,
            models.Report.digest,
            models.Report.commit_timestamp,
        ).where(
            models.Report.integration_id == integration_id,
            models.Report.commit_sha.in_(missing),
        )
    ):
        known[commit_sha] = _Known(report_id, digest, timestamp)


def _normalised(
    report: Report, config: IntegrationConfig, known: _Known | None, protocol: Protocol
) -> tuple[Report, dict[str, Any], str]:
    if protocol is Protocol.OTLP and known is not None:
        report = report.model_copy(update={"commit_timestamp": known.commit_timestamp})
    body = report.stored_body(keep_ci_context=config.collection.ci_context)
    if protocol is not Protocol.REPORT_API:
        body["protocol"] = protocol.value
    return report, body, content_digest(body)


def _history_normalised(
    item: HistoryReport,
    config: IntegrationConfig,
    known: _Known | None,
    *,
    branch: str,
    protocol: Protocol,
) -> tuple[dict[str, Any], str]:
    """What :func:`_normalised` makes of the same report, from its compact form."""
    body: dict[str, Any] = json.loads(item.body)
    if not config.collection.ci_context:
        body.pop("ciContext", None)
    if item.branch == UNKNOWN_BRANCH:
        body["branch"] = branch
    if protocol is Protocol.OTLP and known is not None:
        body["commitTimestamp"] = known.commit_timestamp
    if protocol is not Protocol.REPORT_API:
        body["protocol"] = protocol.value
    columns = {
        "commit_sha": item.commit_sha,
        "branch": body["branch"],
        "commit_timestamp": body["commitTimestamp"],
        "passed": item.passed,
        "violations": item.violations,
        "body": body,
    }
    return columns, content_digest(body)


def _columns(report: Report, body: dict[str, Any], digest: str) -> dict[str, Any]:
    return {
        "commit_sha": report.commit_sha,
        "branch": report.branch,
        "commit_timestamp": report.commit_timestamp,
        "passed": report.summary.passed,
        "violations": report.summary.violations,
        "body": body,
        "digest": digest,
    }


def _store_chunk(
    session: Session,
    integration_id: str,
    config: IntegrationConfig,
    chunk: Sequence[HistoryReport],
    known: dict[str, _Known],
    *,
    branch: str,
    protocol: Protocol,
) -> list[StoredReport]:
    """History: one multi-row INSERT and one UPDATE (by key) per chunk at most."""
    _lookup(session, integration_id, {item.commit_sha for item in chunk}, known)
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    stored: list[StoredReport] = []
    now = utcnow()
    for item in chunk:
        sha = item.commit_sha
        previous = known.get(sha)
        columns, digest = _history_normalised(
            item, config, previous, branch=branch, protocol=protocol
        )
        if previous is None:
            row_id = models.new_id()
            inserts[sha] = {
                "id": row_id,
                "integration_id": integration_id,
                "received_at": now,
                "updated_at": now,
                **columns,
                "digest": digest,
            }
            known[sha] = _Known(row_id, digest, columns["commit_timestamp"])
        elif previous.digest != digest:
            row_id = previous.id
            changed = {"id": row_id, "updated_at": now, **columns, "digest": digest}
            if sha in inserts:
                # Twice in one chunk: the later one is what gets inserted.
                inserts[sha].update(changed)
            else:
                updates[sha] = changed
            known[sha] = _Known(row_id, digest, columns["commit_timestamp"])
        else:
            row_id = previous.id
        stored.append(StoredReport(row_id, sha))
    if inserts:
        session.execute(insert(models.Report), list(inserts.values()))
    if updates:
        session.execute(update(models.Report), list(updates.values()))
    return stored


#: How :func:`_store_one` found the commit: new, changed, or a replay (``None``).
_NEW: Final = "new"
_CHANGED: Final = "changed"


def _store_one(
    session: Session,
    integration: models.Integration,
    config: IntegrationConfig,
    report: Report,
    known: dict[str, _Known],
    *,
    protocol: Protocol,
) -> tuple[models.Report, str | None]:
    """The last report, as an ORM row: the lifecycle and the outbox work on it."""
    row = session.scalars(
        select(models.Report).where(
            models.Report.integration_id == integration.id,
            models.Report.commit_sha == report.commit_sha,
        )
    ).one_or_none()
    previous = _Known(row.id, row.digest, row.commit_timestamp) if row is not None else None
    normalised, body, digest = _normalised(report, config, previous, protocol)
    if row is not None and row.digest == digest:
        return row, None
    outcome = _CHANGED if row is not None else _NEW
    if row is None:
        row = models.Report(id=models.new_id(), integration_id=integration.id)
        session.add(row)
    for column, value in _columns(normalised, body, digest).items():
        setattr(row, column, value)
    known[report.commit_sha] = _Known(row.id, digest, normalised.commit_timestamp)
    return row, outcome


def _is_new_head(
    session: Session, integration: models.Integration, candidate: models.Report
) -> bool:
    if integration.head_report_id is None or integration.head_report_id == candidate.id:
        return True
    head_timestamp = session.scalar(
        select(models.Report.commit_timestamp).where(models.Report.id == integration.head_report_id)
    )
    return head_timestamp is None or candidate.commit_timestamp >= head_timestamp


def _apply_lifecycle(
    session: Session,
    integration: models.Integration,
    row: models.Report,
    report: Report,
    *,
    resubmitted: bool,
    covers_whole_repository: bool,
    now: datetime,
) -> list[AppliedEvent]:
    open_alerts = {
        alert.id: alert
        for alert in session.scalars(
            select(models.Alert).where(
                models.Alert.integration_id == integration.id,
                models.Alert.status == lifecycle.AlertStatus.OPEN,
            )
        )
    }
    for alert in open_alerts.values():
        _end_expired_acknowledgement(alert, now)
    transitions = lifecycle.evaluate(
        (
            lifecycle.OpenAlert(
                alert.id, lifecycle.AlertKey(alert.rule_id, alert.scope), alert.acknowledged
            )
            for alert in open_alerts.values()
        ),
        report,
        covers_whole_repository=covers_whole_repository,
    )
    # Only a corrected resubmission of a commit can have events already.
    recorded = (
        {
            event.alert_id: event
            for event in session.scalars(
                select(models.AlertEventRow).where(models.AlertEventRow.report_id == row.id)
            )
        }
        if resubmitted
        else {}
    )
    applied: list[AppliedEvent] = []
    for transition in transitions:
        observation = transition.observation
        if transition.alert_id is None:
            assert observation is not None
            alert = models.Alert(
                id=models.new_id(),
                integration_id=integration.id,
                rule_id=transition.key.rule_id,
                scope=transition.key.scope,
                status=lifecycle.AlertStatus.OPEN,
                acknowledged=False,
                introduced_by_commit=row.commit_sha,
                opened_at=now,
            )
            session.add(alert)
        else:
            alert = open_alerts[transition.alert_id]
        if observation is not None:
            alert.rule_name = observation.rule_name
            alert.severity = observation.severity
            alert.message = observation.message
        if transition.event is lifecycle.AlertEvent.RESOLVED:
            alert.status = lifecycle.AlertStatus.RESOLVED
            alert.resolved_by_commit = row.commit_sha
            alert.resolved_at = now
        else:
            alert.last_seen_commit = row.commit_sha

        event = recorded.get(alert.id)
        if event is None:
            event = models.AlertEventRow(
                report_id=row.id, alert_id=alert.id, event=transition.event
            )
            session.add(event)
        elif transition.event is lifecycle.AlertEvent.RESOLVED:
            # A corrected resubmission of the HEAD resolved what it had reported.
            event.event = transition.event
        event.severity = alert.severity
        event.message = alert.message
        applied.append(AppliedEvent(lifecycle.AlertEvent(event.event), alert))
    return applied


def _end_expired_acknowledgement(alert: models.Alert, now: datetime) -> None:
    """An acknowledgement that ran out (``acknowledgeFor``) no longer silences."""
    state = lifecycle.AlertState(
        lifecycle.AlertStatus.OPEN, bool(alert.acknowledged), alert.acknowledged_until
    )
    if state.acknowledgement_expired(now):
        alert.acknowledged = False
        alert.acknowledged_until = None


@dataclass(frozen=True, slots=True)
class LastCommit:
    commit_sha: str
    commit_timestamp: int
    received_at: datetime


def last_commit(session: Session, integration_id: str) -> LastCommit | None:
    """The checkpoint the CLI backfills from: the newest report by commit time
    among tracked branches (an unknown branch counts as tracked).

    The CLI runs ``git log <checkpoint>..HEAD``, so a commit of an untracked
    branch, possibly absent from the CI job's clone, must never be it.
    """
    config = session.scalar(
        select(models.Integration.config).where(models.Integration.id == integration_id)
    )
    query = select(
        models.Report.commit_sha, models.Report.commit_timestamp, models.Report.received_at
    ).where(models.Report.integration_id == integration_id)
    branches = IntegrationConfig.model_validate(config).tracked_branch_names if config else None
    if branches is not None:
        query = query.where(models.Report.branch.in_(branches))
    row = session.execute(
        query.order_by(
            models.Report.commit_timestamp.desc(), models.Report.received_at.desc()
        ).limit(1)
    ).one_or_none()
    return LastCommit(*row) if row is not None else None
