"""The contract's write side: ``POST /api/v1/reports`` and ``/reports/batch``.

Each request is one hop to a worker thread: authenticate the key, parse and
screen the body, store it and commit (see :mod:`clef_pro_api.routes.bodies`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from clef_pro.domain.report import Report, ReportBatch, ServerClock, validation_context
from clef_pro_api import metrics, schemas
from clef_pro_api.deps import (
    OutboxWakerDep,
    PresentedTokenDep,
    SettingsDep,
    authenticate_ci_key,
)
from clef_pro_api.errors import answers
from clef_pro_api.routes.batch_body import parse_batch
from clef_pro_api.routes.bodies import openapi_json_body, parse_json, require_json
from clef_pro_api.services import ingest
from clef_pro_api.settings import Settings

router = APIRouter(
    prefix="/api/v1/reports", tags=["reports (CLI contract)"], responses=answers(401, 403, 503)
)

Answer = TypeVar("Answer")
Body = bytes | bytearray


def server_clock(settings: Settings) -> ServerClock:
    return ServerClock(
        now_ms=time.time_ns() // 1_000_000,
        max_future_ms=int(settings.max_commit_future_hours * 3_600_000),
    )


def record(
    kind: str, started: float, result: ingest.IngestResult, wake: Callable[[], None]
) -> None:
    """Metrics of a committed ingestion, and a nudge to the outbox sender."""
    metrics.INGEST_SECONDS.labels(kind).observe(time.perf_counter() - started)
    for event in result.events:
        metrics.ALERT_EVENTS.labels(event.event.value).inc()
    for notification in result.notifications:
        metrics.NOTIFICATIONS_QUEUED.labels(notification.channel_type).inc()
    if result.notifications:
        wake()


async def _in_one_hop(
    request: Request,
    token: str,
    settings: Settings,
    work: Callable[[Session, str, Body], Answer],
    *,
    releasable: bool = False,
) -> Answer:
    """Read the body, then authenticate, parse and store it in one worker thread.

    A ``releasable`` body is read into a ``bytearray`` that only ``work``
    holds (``request.body()`` would keep its own copy for the request's
    lifetime), so ``work`` can free it once parsed, before storing.
    """
    require_json(request)
    body: Body
    if releasable:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
    else:
        body = await request.body()
    sessions: sessionmaker[Session] = request.app.state.sessions

    def run() -> Answer:
        with sessions() as session:
            caller = authenticate_ci_key(session, token, settings, request)
            return work(session, caller.integration_id, body)

    return await run_in_threadpool(run)


def _store(
    session: Session, integration_id: str, reports: Sequence[Report], kind: str, wake: Any
) -> ingest.IngestResult:
    started = time.perf_counter()
    result = ingest.ingest(session, integration_id, reports)
    session.commit()
    record(kind, started, result, wake)
    return result


@router.post(
    "",
    response_model=schemas.ReportAccepted,
    responses=answers(413, 415, 422),
    openapi_extra=openapi_json_body(Report, description="One commit's report"),
)
async def submit_report(
    request: Request, token: PresentedTokenDep, settings: SettingsDep, wake: OutboxWakerDep
) -> schemas.ReportAccepted:
    """Store one commit's report. Resubmitting a commit replaces its report
    idempotently: same id, same alert state, no second notification."""

    def work(session: Session, integration_id: str, body: Body) -> schemas.ReportAccepted:
        context = validation_context(server_clock(settings))
        report = parse_json(Report, body, context=context)
        row = _store(session, integration_id, [report], "single", wake).reports[0]
        return schemas.ReportAccepted(id=row.id, commit_sha=row.commit_sha)

    return await _in_one_hop(request, token, settings, work)


@router.post(
    "/batch",
    response_model=schemas.BatchAccepted,
    responses=answers(413, 415, 422),
    openapi_extra=openapi_json_body(
        ReportBatch, description="Reports of a gap, oldest first; limited by body size only"
    ),
)
async def submit_batch(
    request: Request, token: PresentedTokenDep, settings: SettingsDep, wake: OutboxWakerDep
) -> schemas.BatchAccepted:
    """Backfill after a gap, oldest first, all or nothing. Only the last
    report (the HEAD of the batch) moves alerts and the matrix."""

    def work(session: Session, integration_id: str, body: Body) -> schemas.BatchAccepted:
        context = validation_context(server_clock(settings))
        batch = parse_batch(body, context=context)
        if isinstance(body, bytearray):
            body.clear()  # what it says is in ``batch`` now, in less memory
        started = time.perf_counter()
        result = ingest.ingest_batch(session, integration_id, batch.history, batch.head)
        del batch
        session.commit()
        record("batch", started, result, wake)
        return schemas.BatchAccepted(
            accepted=len(result.reports), report_ids=[row.id for row in result.reports]
        )

    return await _in_one_hop(request, token, settings, work, releasable=True)
