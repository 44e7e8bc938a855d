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
from prometheus_client import Counter, Histogram
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette import status
from starlette.concurrency import run_in_threadpool

from clef_pro.domain import apikeys
from clef_pro.domain.report import Report, ReportBatch, ServerClock, validation_context
from clef_pro_api import metrics, schemas
from clef_pro_api.deps import (
    CI_KEY_SECURITY,
    Attempts,
    authenticate_ci_key,
    queued_waker,
    token_from_headers,
    too_many_failures,
    unauthorized,
)
from clef_pro_api.errors import answers
from clef_pro_api.routes.batch_body import parse_batch
from clef_pro_api.routes.bodies import JSON, openapi_json_body, parse_json, require_json
from clef_pro_api.services import ingest
from clef_pro_api.services.auth import is_admin_token, looks_like_api_key
from clef_pro_api.services.ratelimit import TooManyFailures
from clef_pro_api.settings import Settings
from clef_pro_api.storage.exchange import Exchange

router = APIRouter(
    prefix="/api/v1/reports", tags=["reports (CLI contract)"], responses=answers(401, 403, 429, 503)
)

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
    _ingest_seconds(kind).observe(time.perf_counter() - started)
    for event in result.events:
        _alert_events(event.event.value).inc()
    for channel_type in result.notifications:
        metrics.NOTIFICATIONS_QUEUED.labels(channel_type).inc()
    if result.notifications:
        wake(result.notifications)


# Looking a label up costs more than counting: each series is looked up once.
@functools.cache
def _alert_events(event: str) -> Counter:
    return metrics.ALERT_EVENTS.labels(event)


@functools.cache
def _ingest_seconds(kind: str) -> Histogram:
    return metrics.INGEST_SECONDS.labels(kind)


def presented_key(token: str, settings: Settings, attempts: Attempts) -> ingest.ByKey:
    """The checks of a presented CI key that need no database."""
    try:
        attempts.check()
    except TooManyFailures as error:
        raise too_many_failures(error) from None
    if is_admin_token(token, settings.admin_token_value):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint takes a CI API key")
    if not looks_like_api_key(token) or not apikeys.is_well_formed(token):
        attempts.failed()
        raise unauthorized()
    return ingest.ByKey(apikeys.sha256_hex(token))


def store(
    engine: Engine,
    key: ingest.Caller,
    attempts: Attempts,
    *,
    kind: str,
    wake: Callable[[Collection[str]], None],
    history: Sequence[ingest.HistoryReport],
    last: Report,
) -> ingest.IngestResult:
    """Store and commit; ``401`` when the key turns out unknown (nothing stored)."""
    started = time.perf_counter()
    with engine.connect() as connection, Exchange(connection) as exchange:
        try:
            result = ingest.ingest_batch(exchange, key, history, last)
        except ingest.UnknownKey:
            attempts.failed()
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
            authenticate_ci_key(session, token, settings, request)
        raise


def _json(model: schemas.ApiModel) -> Response:
    return Response(model.__pydantic_serializer__.to_json(model, by_alias=True), media_type=JSON)


@router.post(
    "",
    response_model=schemas.ReportAccepted,
    responses=answers(413, 415, 422),
    openapi_extra={
        **openapi_json_body(Report, description="One commit's report"),
        "security": CI_KEY_SECURITY,
    },
)
async def submit_report(request: Request) -> Response:
    """Store one commit's report. Resubmitting a commit replaces its report
    idempotently: same id, same alert state, no second notification."""
    token = token_from_headers(request)
    settings: Settings = request.app.state.settings
    wake = queued_waker(request)
    require_json(request)
    body = await request.body()
    engine: Engine = request.app.state.engine

    def work() -> Response:
        attempts = Attempts(request, "api-key")
        key = presented_key(token, settings, attempts)
        context = validation_context(server_clock(settings))
        report = _parse(request, token, settings, lambda: parse_json(Report, body, context=context))
        row = store(
            engine, key, attempts, kind="single", wake=wake, history=[], last=report
        ).reports[0]
        return _json(schemas.ReportAccepted(id=row.id, commit_sha=row.commit_sha))

    return await run_in_threadpool(work)


@router.post(
    "/batch",
    response_model=schemas.BatchAccepted,
    responses=answers(413, 415, 422),
    openapi_extra={
        **openapi_json_body(
            ReportBatch, description="Reports of a gap, oldest first; limited by body size only"
        ),
        "security": CI_KEY_SECURITY,
    },
)
async def submit_batch(request: Request) -> Response:
    """Backfill after a gap, oldest first, all or nothing. Only the last
    report (the HEAD of the batch) moves alerts and the matrix."""
    token = token_from_headers(request)
    settings: Settings = request.app.state.settings
    wake = queued_waker(request)
    require_json(request)
    # Read into a buffer only the worker holds (``request.body()`` would keep a
    # copy for the request's lifetime), so it is freed once parsed.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    engine: Engine = request.app.state.engine
    sessions: sessionmaker[Session] = request.app.state.sessions

    def work() -> Response:
        # A batch may be large: the key is checked before its body is parsed.
        with sessions() as session:
            caller = authenticate_ci_key(session, token, settings, request)
        context = validation_context(server_clock(settings))
        batch = parse_batch(body, context=context)
        body.clear()  # what it says is in ``batch`` now, in less memory
        result = store(
            engine,
            ingest.ById(caller.integration_id),
            Attempts(request, "api-key"),
            kind="batch",
            wake=wake,
            history=batch.history,
            last=batch.head,
        )
        del batch
        return _json(
            schemas.BatchAccepted(
                accepted=len(result.reports), report_ids=[row.id for row in result.reports]
            )
        )

    return await run_in_threadpool(work)
