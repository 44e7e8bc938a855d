"""The contract's write side: ``POST /api/v1/reports`` and ``/reports/batch``.

Each request is one hop to a worker thread, which parses and screens the
body, then resolves the key, stores the reports and commits in the two
exchanges of :func:`clef_pro_api.services.ingest.ingest` (see
:mod:`clef_pro_api.routes.bodies`). The answer is serialised there too, as
bytes: FastAPI's response-model pass would validate again what was just
built (``response_model`` still documents it).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import Counter
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette import status
from starlette.concurrency import run_in_threadpool

from clef_pro.domain import apikeys
from clef_pro.domain.report import Report, ReportBatch, ServerClock, validation_context
from clef_pro_api import metrics, schemas
from clef_pro_api.deps import (
    PresentedTokenDep,
    QueuedWakerDep,
    SettingsDep,
    authenticate_ci_key,
    unauthorized,
)
from clef_pro_api.routes.bodies import JSON, openapi_json_body, parse_json, require_json
from clef_pro_api.services import ingest
from clef_pro_api.services.auth import is_admin_token, looks_like_api_key
from clef_pro_api.settings import Settings
from clef_pro_api.storage.exchange import Exchange

router = APIRouter(prefix="/api/v1/reports", tags=["reports (CLI contract)"])

Parsed = TypeVar("Parsed")


def server_clock(settings: Settings) -> ServerClock:
    return ServerClock(
        now_ms=time.time_ns() // 1_000_000,
        max_future_ms=int(settings.max_commit_future_hours * 3_600_000),
    )


def record(
    kind: str,
    started: float,
    result: ingest.IngestResult,
    wake: Callable[[Collection[str]], None],
) -> None:
    """Metrics of a committed ingestion, and a nudge to the outbox sender."""
    metrics.INGEST_SECONDS.labels(kind).observe(time.perf_counter() - started)
    for event in result.events:
        _alert_events(event.event.value).inc()
    for channel_type in result.notifications:
        metrics.NOTIFICATIONS_QUEUED.labels(channel_type).inc()
    if result.notifications:
        wake(result.notifications)


@functools.cache
def _alert_events(event: str) -> Counter:
    """The counter of one event (looking a label up costs more than counting)."""
    return metrics.ALERT_EVENTS.labels(event)


def presented_key(token: str, settings: Settings) -> ingest.ByKey:
    """The checks of a presented CI key that need no database."""
    if is_admin_token(token, settings.admin_token_value):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint takes a CI API key")
    if not looks_like_api_key(token) or not apikeys.is_well_formed(token):
        raise unauthorized()
    return ingest.ByKey(apikeys.sha256_hex(token))


def store(
    engine: Engine,
    key: ingest.ByKey,
    reports: Sequence[Report],
    kind: str,
    wake: Callable[[Collection[str]], None],
) -> ingest.IngestResult:
    """Store and commit; ``401`` when the key turns out unknown (nothing stored)."""
    started = time.perf_counter()
    with engine.connect() as connection, Exchange(connection) as exchange:
        try:
            result = ingest.ingest(exchange, key, reports)
        except ingest.UnknownKey:
            raise unauthorized() from None
        exchange.commit()
    record(kind, started, result, wake)
    return result


def _parse(
    request: Request,
    token: str,
    settings: Settings,
    parse: Callable[[], Parsed],
) -> Parsed:
    """Parse the body; an invalid one from an unknown key is still a ``401``."""
    try:
        return parse()
    except RequestValidationError:
        sessions: sessionmaker[Session] = request.app.state.sessions
        with sessions() as session:
            authenticate_ci_key(session, token, settings)
        raise


def _json(model: schemas.ApiModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model, by_alias=True), media_type=JSON)


@router.post(
    "",
    response_model=schemas.ReportAccepted,
    openapi_extra=openapi_json_body(Report, description="One commit's report"),
)
async def submit_report(
    request: Request, token: PresentedTokenDep, settings: SettingsDep, wake: QueuedWakerDep
) -> Response:
    """Store one commit's report. Resubmitting a commit replaces its report
    idempotently: same id, same alert state, no second notification."""
    require_json(request)
    body = await request.body()
    engine: Engine = request.app.state.engine

    def work() -> Response:
        key = presented_key(token, settings)
        context = validation_context(server_clock(settings))
        report = _parse(request, token, settings, lambda: parse_json(Report, body, context=context))
        row = store(engine, key, [report], "single", wake).reports[0]
        return _json(schemas.ReportAccepted(id=row.id, commit_sha=row.commit_sha))

    return await run_in_threadpool(work)


@router.post(
    "/batch",
    response_model=schemas.BatchAccepted,
    openapi_extra=openapi_json_body(
        ReportBatch, description="Reports of a gap, oldest first; limited by body size only"
    ),
)
async def submit_batch(
    request: Request, token: PresentedTokenDep, settings: SettingsDep, wake: QueuedWakerDep
) -> Response:
    """Backfill after a gap, oldest first, all or nothing. Only the last
    report (the HEAD of the batch) moves alerts and the matrix."""
    require_json(request)
    body = await request.body()
    engine: Engine = request.app.state.engine

    def work() -> Response:
        key = presented_key(token, settings)
        context = validation_context(server_clock(settings))
        batch = _parse(
            request, token, settings, lambda: parse_json(ReportBatch, body, context=context)
        )
        result = store(engine, key, batch.reports, "batch", wake)
        return _json(
            schemas.BatchAccepted(
                accepted=len(result.reports), report_ids=[row.id for row in result.reports]
            )
        )

    return await run_in_threadpool(work)
