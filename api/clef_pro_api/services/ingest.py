"""Taking reports in: store, pick the HEAD, run the alert lifecycle and queue its
notifications, in one transaction.

Both doors (the report API and OTLP) call :func:`ingest`, the one entry point,
so a report means the same whichever protocol carried it.

Everything one submission changes happens under a row lock on its
integration, so concurrent submissions from several replicas are applied one
after the other: two can never open the same alert twice or lose a
resolution. An exception anywhere leaves nothing stored.

Why it is shaped as it is: a report costs what its round trips and its
statements cost, far more than the lifecycle's own Python. So ingestion
speaks SQLAlchemy Core through an :class:`~clef_pro_api.storage.exchange.Exchange`
(no ORM unit of work, statements compiled once), in two exchanges, each one
round trip on PostgreSQL (one multi-statement query):

1. ``BEGIN``; the integration row locked (``SELECT ... FOR UPDATE OF``),
   joined to the presented API key so that resolving the key costs no
   statement of its own; then, in statements that start after the lock is
   held (so they see what the previous holder committed), the HEAD's commit
   time with the stored version of this commit, and the open alerts.
2. Every write (the report, the HEAD, alerts, their events, the outbox's
   messages) and ``COMMIT``.

A corrected resubmission of a commit that becomes HEAD reads what it had
recorded in one exchange more. On SQLite the same statements run one after
the other. The alert lifecycle stays the pure domain function it is.

A batch's history (every report but the last, which alone may move the HEAD)
is written in chunks, each one lookup of the chunk's commits and one bulk
insert (``COPY`` on PostgreSQL, see
:meth:`~clef_pro_api.storage.exchange.Exchange.insert_many`), never a round
trip per report, so a 10,000-report backfill costs a few dozen round trips
and its memory stays bounded by a chunk. It arrives as :class:`HistoryReport` items:
reports already validated, each kept as its stored body in JSON bytes and the
few columns the statements need. A 32 MiB batch so waits for storage as about
as many bytes, not as hundreds of thousands of Python objects that every
garbage collection would walk, with the GIL held, while the service has other
requests to answer.
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Final, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Table,
    Text,
    and_,
    bindparam,
    insert,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session, aliased

from clef_pro.domain import lifecycle
from clef_pro.domain.config import IntegrationConfig
from clef_pro.domain.report import (
    UNKNOWN_BRANCH,
    Protocol,
    Report,
    canonical_digest,
    canonical_json,
    newest_named_branch,
)
from clef_pro_api.services import outbox
from clef_pro_api.services.errors import NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.exchange import Exchange
from clef_pro_api.storage.models import utcnow

#: Reports of a batch's history per bulk insert (and per lookup of already stored commits).
CHUNK: Final = 500


# ---------------------------------------------------------------- who submits


@dataclass(frozen=True, slots=True)
class ByKey:
    """A presented CI API key (its SHA-256): checked in the locking statement."""

    sha256: str


@dataclass(frozen=True, slots=True)
class ById:
    """An integration whose caller is already authenticated (OTLP, tools)."""

    integration_id: str


Caller = ByKey | ById


class UnknownKey(Exception):
    """The presented key is unknown, expired, or its integration was deleted."""


# ---------------------------------------------------------------- results


class HistoryReport(NamedTuple):
    """A validated report of a batch's history, compact until it is stored.

    ``body`` is the stored body in canonical JSON (what its digest is of),
    without ``ciContext``, which is kept apart in ``ci_context`` whenever
    one was sent (whether it is kept depends on the integration, known only
    under its lock), and with the branch as sent (an unknown one is resolved
    with the whole batch in view). The usual report (no ``ciContext`` to keep,
    a known branch, the report API) is so stored as it is, its digest that
    of these bytes: never parsed nor serialised again.

    A tuple of strings, numbers and bytes, which the garbage collector stops
    tracking: thousands of them waiting for storage cost it nothing.
    """

    commit_sha: str
    branch: str
    commit_timestamp: int
    passed: bool
    violations: int
    body: bytes
    ci_context: bytes = b""

    @classmethod
    def of(cls, report: Report) -> HistoryReport:
        body = report.stored_body(keep_ci_context=True)
        ci_context = body.pop("ciContext", None)
        return cls(
            commit_sha=report.commit_sha,
            branch=report.branch,
            commit_timestamp=report.commit_timestamp,
            passed=report.summary.passed,
            violations=report.summary.violations,
            body=canonical_json(body),
            ci_context=canonical_json(ci_context) if ci_context is not None else b"",
        )


@dataclass(slots=True)
class AlertRecord:
    """An alert as ingestion holds it: read, changed and written with Core."""

    id: str
    rule_id: str
    scope: str
    rule_name: str
    severity: str
    message: str
    status: str
    acknowledged: bool
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    acknowledged_until: datetime | None
    notified_at: dict[str, str] | None
    introduced_by_commit: str
    last_seen_commit: str
    opened_at: datetime
    resolved_by_commit: str | None = None
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AppliedEvent:
    """One alert event a HEAD report caused, as the notification pipeline needs it."""

    event: lifecycle.AlertEvent
    alert: AlertRecord
    #: The report opened this alert: it is inserted, not updated.
    opened: bool = False


@dataclass(frozen=True, slots=True)
class StoredReport:
    id: str
    commit_sha: str


@dataclass(slots=True)
class IngestResult:
    #: One per submitted report, in order (a repeated commit repeats its id).
    reports: list[StoredReport]
    integration_id: str = ""
    #: The report that became HEAD and drove the lifecycle, if any did.
    head: StoredReport | None = None
    events: list[AppliedEvent] = field(default_factory=list)
    #: Channel types of the outbox messages the HEAD's events queued.
    notifications: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Known:
    """What is stored of a commit: enough to tell a replay from a change."""

    id: str
    digest: str
    commit_timestamp: int


# ---------------------------------------------------------------- statements

_I = cast(Table, models.Integration.__table__)
_K = cast(Table, models.ApiKey.__table__)
_R = cast(Table, models.Report.__table__)
_A = cast(Table, models.Alert.__table__)
_E = cast(Table, models.AlertEventRow.__table__)
_N = cast(Table, models.Notification.__table__)
_L = cast(Table, models.NotificationAlert.__table__)


def _integration_of(caller: type[ByKey] | type[ById]) -> Any:
    """The integration id a statement is about, as SQL."""
    if caller is ById:
        return bindparam("p_integration")
    return select(_K.c.integration_id).where(_K.c.sha256 == bindparam("p_key")).scalar_subquery()


_LOCK_COLUMNS = (
    _I.c.id,
    _I.c.display_name,
    # As its JSON text, which :func:`_config` parses once per text.
    _I.c.config.cast(Text).label("config"),
    _I.c.resend_at,
    _I.c.deleted_at,
)
_LOCK: Final = {
    ByKey: select(*_LOCK_COLUMNS, _K.c.sha256)
    .join_from(_K, _I, _I.c.id == _K.c.integration_id)
    .where(
        _K.c.sha256 == bindparam("p_key"),
        _I.c.deleted_at.is_(None),
        # A rotated-out key works until its grace period ends, not after.
        or_(_K.c.expires_at.is_(None), _K.c.expires_at > bindparam("p_now")),
    )
    .with_for_update(of=_I),
    ById: select(*_LOCK_COLUMNS, literal("").label("sha256"))
    .where(_I.c.id == bindparam("p_integration"))
    .with_for_update(of=_I),
}
_head = aliased(_R, name="head")
_this = aliased(_R, name="this")
_ALERT_COLUMNS = (
    _A.c.id,
    _A.c.rule_id,
    _A.c.scope,
    _A.c.rule_name,
    _A.c.severity,
    _A.c.message,
    _A.c.status,
    _A.c.acknowledged,
    _A.c.acknowledged_by,
    _A.c.acknowledged_at,
    _A.c.acknowledged_until,
    _A.c.notified_at,
    _A.c.introduced_by_commit,
    _A.c.last_seen_commit,
    _A.c.opened_at,
)
#: What the submission finds, read after the lock is held: the HEAD's commit
#: time, the stored version of this commit, and the open alerts (one row per
#: open alert, or one row without an alert when none is open).
_STATE: Final = {
    caller: select(
        _I.c.head_report_id,
        _head.c.commit_timestamp,
        _this.c.id,
        _this.c.digest,
        _this.c.commit_timestamp,
        *_ALERT_COLUMNS,
    )
    .select_from(
        _I.outerjoin(_head, _head.c.id == _I.c.head_report_id)
        .outerjoin(
            _this,
            and_(_this.c.integration_id == _I.c.id, _this.c.commit_sha == bindparam("p_sha")),
        )
        .outerjoin(
            _A,
            and_(
                _A.c.integration_id == _I.c.id,
                _A.c.status == lifecycle.AlertStatus.OPEN.value,
            ),
        )
    )
    .where(_I.c.id == _integration_of(caller))
    for caller in (ByKey, ById)
}
_STATE_COLUMNS: Final = 5
_RECORDED_EVENTS: Final = select(_E.c.alert_id, _E.c.event).where(
    _E.c.report_id == bindparam("p_report")
)
_NOTIFIED_CHANNELS: Final = select(_N.c.channel_name).where(_N.c.report_id == bindparam("p_report"))


_REPORT_COLUMNS = (
    "commit_sha",
    "branch",
    "commit_timestamp",
    "passed",
    "violations",
    "body",
    "digest",
    "updated_at",
)
#: A report, its body bound as the canonical JSON its digest is of (so never
#: serialised twice).
_INSERT_REPORT: Final = insert(_R).values(
    {
        column.name: models.JSONText(column.name)
        if column.name == "body"
        else bindparam(column.name)
        for column in _R.c
    }
)
_UPDATE_REPORT: Final = (
    update(_R)
    .where(_R.c.id == bindparam("p_id"))
    .values(
        {
            name: models.JSONText(name) if name == "body" else bindparam(name)
            for name in _REPORT_COLUMNS
        }
    )
)
_MOVE_HEAD: Final = (
    update(_I)
    .where(_I.c.id == bindparam("p_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "head_report_id",
                "last_head_at",
                "silence_check_at",
                "resend_at",
                "updated_at",
            )
        }
    )
)
_ALERT_CHANGES = (
    "rule_name",
    "severity",
    "message",
    "status",
    "acknowledged",
    "acknowledged_until",
    "notified_at",
    "last_seen_commit",
    "resolved_by_commit",
    "resolved_at",
    "updated_at",
)
_UPDATE_EVENT: Final = (
    update(_E)
    .where(_E.c.report_id == bindparam("p_report"), _E.c.alert_id == bindparam("p_alert"))
    .values({name: bindparam(name) for name in ("event", "severity", "message")})
)

#: Rows per multi-row statement of the lifecycle's writes: a report's alerts,
#: events and messages each cost one statement (per this many), not one each.
#: Far below either database's limit on parameters per statement.
ROWS_PER_STATEMENT: Final = 64
_MULTI: dict[tuple[str, tuple[str, ...], int], Any] = {}


def _multi_insert(table: Table, names: tuple[str, ...], count: int) -> Any:
    """``INSERT INTO table (names) VALUES (...), (...)`` of ``count`` rows, the
    parameter of row ``i``'s column ``name`` being ``name_i``; built once per
    shape and kept, so it is compiled once (:func:`~clef_pro_api.storage.exchange.compiled`)."""
    key = (table.name, names, count)
    found = _MULTI.get(key)
    if found is None:
        found = _MULTI[key] = insert(table).values(
            [
                {name: bindparam(f"{name}_{i}", type_=table.c[name].type) for name in names}
                for i in range(count)
            ]
        )
    return found


def _multi_update_alerts(count: int) -> Any:
    """One ``UPDATE alerts ... FROM`` the changes of ``count`` alerts (a
    ``UNION ALL`` of one-row SELECTs: PostgreSQL and SQLite both read it)."""
    key = (_A.name, ("update",), count)
    found = _MULTI.get(key)
    if found is None:
        names = ("p_id", *_ALERT_CHANGES)
        rows = [
            select(
                *(
                    bindparam(
                        f"{name}_{i}", type_=_A.c["id" if name == "p_id" else name].type
                    ).label(name)
                    for name in names
                )
            )
            for i in range(count)
        ]
        changes = (union_all(*rows) if count > 1 else rows[0]).subquery("changes")
        found = _MULTI[key] = (
            update(_A)
            .where(_A.c.id == changes.c.p_id)
            .values({name: changes.c[name] for name in _ALERT_CHANGES})
        )
    return found


def _flat(rows: Sequence[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any]:
    return {f"{name}_{i}": row[name] for i, row in enumerate(rows) for name in names}


def _insert_rows(exchange: Exchange, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Queue ``rows`` (dicts with the same keys) as multi-row INSERTs."""
    if not rows:
        return
    names = tuple(rows[0])
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[start : start + ROWS_PER_STATEMENT]
        exchange.execute(_multi_insert(table, names, len(part)), _flat(part, names))


def _update_alerts(exchange: Exchange, changed: Sequence[dict[str, Any]]) -> None:
    names = ("p_id", *_ALERT_CHANGES)
    for start in range(0, len(changed), ROWS_PER_STATEMENT):
        part = changed[start : start + ROWS_PER_STATEMENT]
        exchange.execute(_multi_update_alerts(len(part)), _flat(part, names))


# ---------------------------------------------------------------- the entry point


@dataclass(slots=True)
class _Locked:
    integration_id: str
    display_name: str
    config: IntegrationConfig
    resend_at: datetime | None


def _lock(caller: Caller, row: Any) -> _Locked:
    if row is None:
        if isinstance(caller, ByKey):
            raise UnknownKey
        raise NotFound(caller.integration_id)
    integration_id, display_name, config, resend_at, deleted_at, sha256 = row
    if isinstance(caller, ByKey):
        if not hmac.compare_digest(sha256, caller.sha256):
            raise UnknownKey
    elif deleted_at is not None:
        raise NotFound(caller.integration_id)
    return _Locked(integration_id, display_name, _config(config), resend_at)


@functools.lru_cache(maxsize=256)
def _config(document: str) -> IntegrationConfig:
    """An integration's config from its stored JSON text, parsed and validated
    once per text: every report reads it, and it changes only when its
    resource does. Parsing it again each time cost about a twentieth of a
    report's CPU. The one object is shared by every request that reads the
    same text, so nothing may modify it."""
    return IntegrationConfig.model_validate_json(document)


def _caller_params(caller: Caller) -> dict[str, Any]:
    if isinstance(caller, ByKey):
        return {"p_key": caller.sha256, "p_now": utcnow()}
    return {"p_integration": caller.integration_id}


def lock(exchange: Exchange, caller: Caller) -> str:
    """Only take the integration's ingestion lock (a push with no report);
    the integration's id."""
    params = _caller_params(caller)
    answer = exchange.query(_LOCK[type(caller)], params)
    exchange.send()
    return _lock(caller, answer.first()).integration_id


def ingest(
    exchange: Exchange,
    caller: Caller,
    reports: Sequence[Report],
    *,
    protocol: Protocol = Protocol.REPORT_API,
) -> IngestResult:
    """Store ``reports`` (oldest first); only the last may move the HEAD.

    Leaves the writes queued on ``exchange``: the caller adds its own, if any,
    and commits them with ``exchange.commit()``.

    A report whose commit is already stored with the same content is a replay:
    it keeps its id and changes nothing, so a retry never notifies twice.
    Reports on an unknown branch take the branch of the newest one that names
    one. An OTLP report push orders by its push time, so a commit pushed again
    keeps the place its first push gave it.
    """
    *history, last = reports
    return ingest_batch(
        exchange,
        caller,
        [HistoryReport.of(report) for report in history],
        last,
        protocol=protocol,
    )


def ingest_batch(
    exchange: Exchange,
    caller: Caller,
    history: Sequence[HistoryReport],
    last: Report,
    *,
    protocol: Protocol = Protocol.REPORT_API,
) -> IngestResult:
    """:func:`ingest` of ``history`` (oldest first) followed by ``last``.

    Reports on an unknown branch take the branch of the newest report that
    names one (``last``, or else the newest of the history that does).
    """
    named = newest_named_branch(chain((last.branch,), (item.branch for item in reversed(history))))
    if last.is_on_unknown_branch and named != UNKNOWN_BRANCH:
        last = last.model_copy(update={"branch": named})
    params = _caller_params(caller)
    params["p_sha"] = last.commit_sha
    kind = type(caller)
    locked_answer = exchange.query(_LOCK[kind], params)
    state_answer = exchange.query(_STATE[kind], params)
    exchange.send()
    locked = _lock(caller, locked_answer.first())
    config = locked.config
    state = state_answer.rows
    head_report_id, head_timestamp, this_id, this_digest, this_timestamp = state[0][:_STATE_COLUMNS]

    known: dict[str, _Known] = {}
    if this_id is not None:
        known[last.commit_sha] = _Known(this_id, this_digest, this_timestamp)
    stored: list[StoredReport] = []
    for chunk in _chunks(history):
        stored.extend(
            _store_chunk(
                exchange,
                locked.integration_id,
                config,
                chunk,
                known,
                branch=named,
                protocol=protocol,
            )
        )
    if head_report_id is not None and history:
        # History may have corrected the HEAD's own commit (and its time).
        for entry in known.values():
            if entry.id == head_report_id:
                head_timestamp = entry.commit_timestamp

    now = utcnow()
    previous = known.get(last.commit_sha)
    normalised, body, digest = _normalised(last, config, previous, protocol)
    result = IngestResult(reports=stored, integration_id=locked.integration_id)
    if previous is not None and previous.digest == digest:
        stored.append(StoredReport(previous.id, last.commit_sha))
        return result
    report_id = previous.id if previous is not None else models.new_id()
    columns = _columns(normalised, body, digest)
    if previous is None:
        exchange.execute(
            _INSERT_REPORT,
            {
                "id": report_id,
                "integration_id": locked.integration_id,
                "received_at": now,
                "updated_at": now,
                **columns,
            },
        )
    else:
        exchange.execute(_UPDATE_REPORT, {"p_id": report_id, "updated_at": now, **columns})
    stored.append(StoredReport(report_id, last.commit_sha))

    is_head = (
        head_report_id is None
        or head_report_id == report_id
        or head_timestamp is None
        or normalised.commit_timestamp >= head_timestamp
    )
    if not (config.tracks(normalised.branch) and is_head):
        return result
    result.head = StoredReport(report_id, last.commit_sha)
    _move_head(
        exchange,
        result,
        locked=locked,
        last=normalised,
        report_id=report_id,
        resubmitted=previous is not None,
        state=state,
        now=now,
        protocol=protocol,
    )
    return result


def _move_head(
    exchange: Exchange,
    result: IngestResult,
    *,
    locked: _Locked,
    last: Report,
    report_id: str,
    resubmitted: bool,
    state: list[Sequence[Any]],
    now: datetime,
    protocol: Protocol,
) -> None:
    """The report is the new HEAD: move it, run the lifecycle, queue messages."""
    config = locked.config
    open_alerts = [
        AlertRecord(*row[_STATE_COLUMNS:]) for row in state if row[_STATE_COLUMNS] is not None
    ]
    recorded: dict[str, str] = {}
    already: set[str] = set()
    if resubmitted:
        # Only a corrected resubmission of a commit can have events and messages already.
        events_answer = exchange.query(_RECORDED_EVENTS, {"p_report": report_id})
        channels_answer = exchange.query(_NOTIFIED_CHANNELS, {"p_report": report_id})
        exchange.send()
        recorded = {str(row[0]): str(row[1]) for row in events_answer.rows}
        already = {channel for (channel,) in channels_answer.rows}
    expired: list[AlertRecord] = []
    result.events = _apply_lifecycle(
        last.commit_sha,
        open_alerts,
        last,
        recorded,
        expired,
        covers_whole_repository=protocol is Protocol.OTLP,
        now=now,
    )
    planned = outbox.plan(
        integration_id=locked.integration_id,
        integration_name=locked.display_name,
        resend_at=locked.resend_at,
        config=config,
        report=outbox.ReportRef(report_id, last.commit_sha, last.branch),
        events=result.events,
        already=already,
        now=now,
    )
    window = config.silent_after
    exchange.execute(
        _MOVE_HEAD,
        {
            "p_id": locked.integration_id,
            "head_report_id": report_id,
            # A report arrived: the integration is not silent (expectReportsEvery).
            "last_head_at": now,
            "silence_check_at": now + window if window is not None else None,
            "resend_at": planned.resend_at or locked.resend_at,
            "updated_at": now,
        },
    )
    _write_alerts(
        exchange,
        integration_id=locked.integration_id,
        report_id=report_id,
        applied=result.events,
        recorded=recorded,
        expired=expired,
        planned=planned,
        now=now,
    )
    _insert_rows(exchange, _N, planned.notifications)
    _insert_rows(exchange, _L, planned.links)
    result.notifications = [row["channel_type"] for row in planned.notifications]


def _chunks(reports: Sequence[HistoryReport]) -> Iterator[Sequence[HistoryReport]]:
    for start in range(0, len(reports), CHUNK):
        yield reports[start : start + CHUNK]


def _lookup(
    connection: Connection, integration_id: str, shas: set[str], known: dict[str, _Known]
) -> None:
    missing = shas - known.keys()
    if not missing:
        return
    for report_id, commit_sha, digest, timestamp in connection.execute(
        select(_R.c.id, _R.c.commit_sha, _R.c.digest, _R.c.commit_timestamp).where(
            _R.c.integration_id == integration_id, _R.c.commit_sha.in_(missing)
        )
    ):
        known[commit_sha] = _Known(report_id, digest, timestamp)


def _normalised(
    report: Report, config: IntegrationConfig, known: _Known | None, protocol: Protocol
) -> tuple[Report, str, str]:
    """The report as stored, its body as canonical JSON text, and its digest."""
    if protocol is Protocol.OTLP and known is not None:
        report = report.model_copy(update={"commit_timestamp": known.commit_timestamp})
    body = report.stored_body(keep_ci_context=config.collection.ci_context)
    if protocol is not Protocol.REPORT_API:
        body["protocol"] = protocol.value
    canonical = canonical_json(body)
    return report, canonical.decode(), canonical_digest(canonical)


def _columns(report: Report, body: str, digest: str) -> dict[str, Any]:
    return {
        "commit_sha": report.commit_sha,
        "branch": report.branch,
        "commit_timestamp": report.commit_timestamp,
        "passed": report.summary.passed,
        "violations": report.summary.violations,
        "body": body,
        "digest": digest,
    }


def _history_normalised(
    item: HistoryReport,
    config: IntegrationConfig,
    known: _Known | None,
    *,
    branch: str,
    protocol: Protocol,
) -> tuple[dict[str, Any], str]:
    """What :func:`_normalised` makes of the same report, from its compact
    form; the body as its canonical JSON text."""
    keep_ci_context = config.collection.ci_context and bool(item.ci_context)
    if protocol is Protocol.REPORT_API and item.branch != UNKNOWN_BRANCH and not keep_ci_context:
        canonical = item.body
        branch, commit_timestamp = item.branch, item.commit_timestamp
    else:
        body: dict[str, Any] = json.loads(item.body)
        if keep_ci_context:
            body["ciContext"] = json.loads(item.ci_context)
        if item.branch == UNKNOWN_BRANCH:
            body["branch"] = branch
        if protocol is Protocol.OTLP and known is not None:
            body["commitTimestamp"] = known.commit_timestamp
        if protocol is not Protocol.REPORT_API:
            body["protocol"] = protocol.value
        canonical = canonical_json(body)
        branch, commit_timestamp = body["branch"], body["commitTimestamp"]
    columns = {
        "commit_sha": item.commit_sha,
        "branch": branch,
        "commit_timestamp": commit_timestamp,
        "passed": item.passed,
        "violations": item.violations,
        "body": canonical.decode(),
    }
    return columns, canonical_digest(canonical)


def _store_chunk(
    exchange: Exchange,
    integration_id: str,
    config: IntegrationConfig,
    chunk: Sequence[HistoryReport],
    known: dict[str, _Known],
    *,
    branch: str,
    protocol: Protocol,
) -> list[StoredReport]:
    """History: one bulk insert and one UPDATE (by key) per chunk at most."""
    _lookup(exchange.connection, integration_id, {item.commit_sha for item in chunk}, known)
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
            changed = {"updated_at": now, **columns, "digest": digest}
            if sha in inserts:
                # Twice in one chunk: the later one is what gets inserted.
                inserts[sha].update(changed)
            else:
                updates[sha] = {"p_id": row_id, **changed}
            known[sha] = _Known(row_id, digest, columns["commit_timestamp"])
        else:
            row_id = previous.id
        stored.append(StoredReport(row_id, sha))
    exchange.insert_many(_INSERT_REPORT, list(inserts.values()))
    if updates:
        exchange.connection.execute(_UPDATE_REPORT, list(updates.values()))
    return stored


def _apply_lifecycle(
    commit_sha: str,
    open_alerts: list[AlertRecord],
    report: Report,
    recorded: dict[str, str],
    expired: list[AlertRecord],
    *,
    covers_whole_repository: bool,
    now: datetime,
) -> list[AppliedEvent]:
    """Apply the lifecycle's transitions to the records; ``expired`` gets the
    open alerts whose acknowledgement ran out (written even without an event)."""
    by_id = {alert.id: alert for alert in open_alerts}
    for alert in open_alerts:
        if _end_expired_acknowledgement(alert, now):
            expired.append(alert)
    transitions = lifecycle.evaluate(
        (
            lifecycle.OpenAlert(
                alert.id, lifecycle.AlertKey(alert.rule_id, alert.scope), alert.acknowledged
            )
            for alert in open_alerts
        ),
        report,
        covers_whole_repository=covers_whole_repository,
    )
    applied: list[AppliedEvent] = []
    for transition in transitions:
        observation = transition.observation
        if transition.alert_id is None:
            assert observation is not None
            alert = AlertRecord(
                id=models.new_id(),
                rule_id=transition.key.rule_id,
                scope=transition.key.scope,
                rule_name=observation.rule_name,
                severity=observation.severity.value,
                message=observation.message,
                status=lifecycle.AlertStatus.OPEN.value,
                acknowledged=False,
                acknowledged_by=None,
                acknowledged_at=None,
                acknowledged_until=None,
                notified_at=None,
                introduced_by_commit=commit_sha,
                last_seen_commit=commit_sha,
                opened_at=now,
            )
        else:
            alert = by_id[transition.alert_id]
        if observation is not None:
            alert.rule_name = observation.rule_name
            alert.severity = observation.severity.value
            alert.message = observation.message
        if transition.event is lifecycle.AlertEvent.RESOLVED:
            alert.status = lifecycle.AlertStatus.RESOLVED.value
            alert.resolved_by_commit = commit_sha
            alert.resolved_at = now
        else:
            alert.last_seen_commit = commit_sha
        event = transition.event
        if alert.id in recorded and event is not lifecycle.AlertEvent.RESOLVED:
            # A corrected resubmission keeps what the commit first did to the alert.
            event = lifecycle.AlertEvent(recorded[alert.id])
        applied.append(AppliedEvent(event, alert, opened=transition.alert_id is None))
    return applied


def _write_alerts(
    exchange: Exchange,
    *,
    integration_id: str,
    report_id: str,
    applied: list[AppliedEvent],
    recorded: dict[str, str],
    expired: list[AlertRecord],
    planned: outbox.Planned,
    now: datetime,
) -> None:
    """The lifecycle's alerts and events, one statement of each kind."""
    opened: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    corrected: list[dict[str, Any]] = []
    with_event = {entry.alert.id for entry in applied}
    for alert in expired:
        if alert.id not in with_event:
            changed.append(_alert_changes(alert, alert.notified_at, now))
    for entry in applied:
        alert = entry.alert
        notified_at = planned.notified_at.get(alert.id, alert.notified_at)
        if entry.opened:
            opened.append(
                {
                    "id": alert.id,
                    "integration_id": integration_id,
                    "rule_id": alert.rule_id,
                    "rule_name": alert.rule_name,
                    "scope": alert.scope,
                    "severity": alert.severity,
                    "message": alert.message,
                    "status": alert.status,
                    "acknowledged": False,
                    "acknowledged_by": None,
                    "acknowledged_at": None,
                    "acknowledged_until": None,
                    "notified_at": notified_at,
                    "introduced_by_commit": alert.introduced_by_commit,
                    "resolved_by_commit": None,
                    "last_seen_commit": alert.last_seen_commit,
                    "opened_at": now,
                    "resolved_at": None,
                    "updated_at": now,
                }
            )
        else:
            changed.append(_alert_changes(alert, notified_at, now))
        if alert.id in recorded:
            corrected.append(
                {
                    "p_report": report_id,
                    "p_alert": alert.id,
                    "event": entry.event.value,
                    "severity": alert.severity,
                    "message": alert.message,
                }
            )
        else:
            events.append(
                {
                    "report_id": report_id,
                    "alert_id": alert.id,
                    "event": entry.event.value,
                    "severity": alert.severity,
                    "message": alert.message,
                    "created_at": now,
                }
            )
    _insert_rows(exchange, _A, opened)
    _update_alerts(exchange, changed)
    _insert_rows(exchange, _E, events)
    exchange.execute(_UPDATE_EVENT, corrected)


def _alert_changes(
    alert: AlertRecord, notified_at: dict[str, str] | None, now: datetime
) -> dict[str, Any]:
    return {
        "p_id": alert.id,
        "rule_name": alert.rule_name,
        "severity": alert.severity,
        "message": alert.message,
        "status": alert.status,
        "acknowledged": alert.acknowledged,
        "acknowledged_until": alert.acknowledged_until,
        "notified_at": notified_at,
        "last_seen_commit": alert.last_seen_commit,
        "resolved_by_commit": alert.resolved_by_commit,
        "resolved_at": alert.resolved_at,
        "updated_at": now,
    }


def _end_expired_acknowledgement(alert: AlertRecord, now: datetime) -> bool:
    """An acknowledgement that ran out (``acknowledgeFor``) no longer silences."""
    state = lifecycle.AlertState(
        lifecycle.AlertStatus.OPEN, bool(alert.acknowledged), alert.acknowledged_until
    )
    if not state.acknowledgement_expired(now):
        return False
    alert.acknowledged = False
    alert.acknowledged_until = None
    return True


def lock_integration(session: Session, integration_id: str) -> models.Integration:
    """Take the per-integration lock that serialises all of its ingestion
    (for the other writers of alerts, which use the ORM)."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None or integration.deleted_at is not None:
        raise NotFound(integration_id)
    return integration


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
