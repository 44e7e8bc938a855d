"""Today's CLI: ``POST /v1/logs`` (an OTLP/HTTP logs receiver) and ``GET /v1/checkpoint``.

Every Clef CLI since 0.1.9 pushes ``clef report|lint|drift --push`` as
OpenTelemetry logs to ``CLEF_TELEMETRY_URL`` (``https://<clef-pro>/v1/logs``)
and reads its gap-fill checkpoint from the same URL with ``/v1/checkpoint``.
An OpenTelemetry Collector's ``otlphttp`` exporter pointed here works too.

Answers follow OTLP/HTTP: ``200`` with an ``ExportLogsServiceResponse``
(``partialSuccess`` when records were rejected), errors as a ``google.rpc.Status``
in the request's encoding, ``400`` malformed, ``401``, ``413``, ``415``,
``429`` (with ``Retry-After``) and ``503`` while the database is away, which
exporters retry. The CLI itself never retries: a refusal fails the user's CI
job, which is why forbidden data is dropped here rather than refused.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from typing import Final

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from google.rpc import code_pb2, status_pb2
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette import status
from starlette.concurrency import run_in_threadpool

from clef_pro.domain.otlp import Mapped, map_request
from clef_pro_api import metrics, schemas
from clef_pro_api.deps import (
    CI_KEY_SECURITY,
    PresentedTokenDep,
    SettingsDep,
    authenticate_ci_key,
    queued_waker,
    token_from_headers,
)
from clef_pro_api.errors import RETRY_AFTER_SECONDS, answers, is_database_unavailable
from clef_pro_api.routes.bodies import media_type
from clef_pro_api.routes.reports import record
from clef_pro_api.services import otlp
from clef_pro_api.services.ingest import last_commit
from clef_pro_api.services.ratelimit import RateLimiter
from clef_pro_api.settings import Settings
from clef_pro_api.storage.exchange import Exchange

log = logging.getLogger(__name__)

router = APIRouter(tags=["OTLP (today's CLI)"])

#: google.rpc codes for the HTTP statuses this door answers.
_RPC_CODES: Final = {
    status.HTTP_400_BAD_REQUEST: code_pb2.INVALID_ARGUMENT,
    status.HTTP_401_UNAUTHORIZED: code_pb2.UNAUTHENTICATED,
    status.HTTP_403_FORBIDDEN: code_pb2.PERMISSION_DENIED,
    status.HTTP_404_NOT_FOUND: code_pb2.NOT_FOUND,
    status.HTTP_413_CONTENT_TOO_LARGE: code_pb2.RESOURCE_EXHAUSTED,
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: code_pb2.INVALID_ARGUMENT,
    status.HTTP_429_TOO_MANY_REQUESTS: code_pb2.RESOURCE_EXHAUSTED,
    status.HTTP_503_SERVICE_UNAVAILABLE: code_pb2.UNAVAILABLE,
}

_LOGS_BODY: Final = {
    "requestBody": {
        "required": True,
        "description": "An OTLP ExportLogsServiceRequest (optionally Content-Encoding: gzip)",
        "content": {
            otlp.JSON: {"schema": {"type": "object"}},
            otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {
        "200": {
            "description": "An ExportLogsServiceResponse, in the request's encoding",
            "content": {
                otlp.JSON: {"schema": {"type": "object"}},
                otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
}


class _Refused(Exception):
    def __init__(self, status_code: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.retry_after = retry_after


def _limiter(request: Request, settings: Settings) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "otlp_rate_limiter", None)
    if limiter is None:
        limiter = RateLimiter(settings.otlp_rate_per_second, settings.otlp_burst)
        request.app.state.otlp_rate_limiter = limiter
    return limiter


@router.post(
    "/v1/logs",
    openapi_extra={**_LOGS_BODY, "security": CI_KEY_SECURITY},
    responses=answers(
        400,
        401,
        403,
        413,
        415,
        429,
        503,
        model=schemas.OtlpStatus,
        content={otlp.PROTOBUF: {"schema": {"type": "string", "format": "binary"}}},
    ),
    response_class=Response,
)
async def export_logs(request: Request) -> Response:
    """Take one OTLP logs push: ``clef report --push`` (one report of its
    commit), ``clef lint --push`` or ``clef drift --push`` (the integration's
    latest lint and drift results)."""
    settings: Settings = request.app.state.settings
    wake = queued_waker(request)
    declared = media_type(request) or otlp.JSON
    encoding = otlp.MEDIA_TYPES.get(declared)
    answer_in = encoding or otlp.JSON
    try:
        if encoding is None:
            raise _Refused(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json or application/x-protobuf",
            )
        token = token_from_headers(request)
        body = await request.body()
        mapped = await run_in_threadpool(
            _take, request, settings=settings, wake=wake, token=token, body=body, encoding=encoding
        )
    except _Refused as refused:
        return _status(answer_in, refused.status_code, refused.message, refused.retry_after)
    except HTTPException as exc:
        retry_after = (exc.headers or {}).get("Retry-After")
        return _status(
            answer_in,
            exc.status_code,
            str(exc.detail),
            float(retry_after) if retry_after else None,
        )
    except DBAPIError as exc:
        if not is_database_unavailable(exc):
            raise
        log.warning("database unavailable; an OTLP push was answered 503")
        return _status(
            answer_in,
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the database is unavailable; nothing was stored, retry later",
            RETRY_AFTER_SECONDS,
        )
    return _export_response(answer_in, mapped)


def _take(
    request: Request,
    *,
    settings: Settings,
    wake: Callable[[Collection[str]], None],
    token: str,
    body: bytes,
    encoding: str,
) -> Mapped:
    """Authenticate, decode, map and store one push: the request's one worker hop."""
    engine: Engine = request.app.state.engine
    with engine.connect() as connection:
        caller = authenticate_ci_key(connection, token, settings, request)
        wait = _limiter(request, settings).admit(caller.integration_id)
        if wait is not None:
            raise _Refused(
                status.HTTP_429_TOO_MANY_REQUESTS,
                "too many pushes for this integration; retry later",
                wait,
            )
        try:
            payload = otlp.decompress(
                body, request.headers.get("content-encoding"), settings.max_otlp_bytes
            )
            del body
            records = otlp.decode(payload, encoding)
        except otlp.MalformedRequest as exc:
            raise _Refused(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        except otlp.TooLarge as exc:
            raise _Refused(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from None
        except otlp.UnsupportedEncoding as exc:
            raise _Refused(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from None
        del payload
        started = time.perf_counter()
        mapped = map_request(
            records,
            received_at_ms=time.time_ns() // 1_000_000,
            max_future_ms=int(settings.max_commit_future_hours * 3_600_000),
        )
        with Exchange(connection) as exchange:
            stored = otlp.store(exchange, caller.integration_id, mapped)
            exchange.commit()
    if stored.ingested is not None:
        record("otlp", started, stored.ingested, wake)
    taken = sum(len(entry.records) for entry in records) - mapped.rejected_records
    metrics.OTLP_RECORDS.labels("taken").inc(taken)
    metrics.OTLP_RECORDS.labels("rejected").inc(mapped.rejected_records)
    metrics.OTLP_DROPPED_ATTRIBUTES.inc(mapped.dropped_attributes)
    # Counts only: a value of a push is never logged.
    log.info(
        "OTLP push for %s: %d reports, %d lint, %d drift results; "
        "%d records rejected, %d attributes dropped",
        caller.integration_id,
        len(mapped.reports),
        stored.lint,
        stored.drift,
        mapped.rejected_records,
        mapped.dropped_attributes,
    )
    return mapped


def _export_response(encoding: str, mapped: Mapped) -> Response:
    rejected = mapped.rejected_records
    if encoding == otlp.PROTOBUF:
        message = logs_service_pb2.ExportLogsServiceResponse()
        if rejected:
            message.partial_success.rejected_log_records = rejected
            message.partial_success.error_message = mapped.error_message()
        return Response(message.SerializeToString(), media_type=otlp.PROTOBUF)
    if not rejected:
        return JSONResponse({})
    return JSONResponse(
        {
            "partialSuccess": {
                "rejectedLogRecords": rejected,
                "errorMessage": mapped.error_message(),
            }
        }
    )


def _status(
    encoding: str, status_code: int, message: str, retry_after: float | None = None
) -> Response:
    """An OTLP error: a ``google.rpc.Status`` in the request's encoding."""
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else {}
    if status_code == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = "Bearer"
    code = _RPC_CODES.get(status_code, code_pb2.UNKNOWN)
    if encoding == otlp.PROTOBUF:
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        return Response(body, status_code=status_code, media_type=otlp.PROTOBUF, headers=headers)
    return JSONResponse(
        {"code": code, "message": message}, status_code=status_code, headers=headers
    )


@router.get(
    "/v1/checkpoint",
    response_model=schemas.TelemetryCheckpoint,
    responses={
        404: {"model": schemas.TelemetryCheckpoint, "description": "Never reported"},
        **answers(401, 403, 429, 503),
    },
)
async def get_checkpoint(
    request: Request, token: PresentedTokenDep, settings: SettingsDep
) -> Response:
    """Where today's CLI backfills from: the newest report on a tracked branch.
    ``404`` with nulls before the first (the CLI reads it as "never reported")."""
    sessions: sessionmaker[Session] = request.app.state.read_sessions

    def read() -> schemas.TelemetryCheckpoint | None:
        with sessions() as session:
            caller = authenticate_ci_key(session, token, settings, request)
            last = last_commit(session, caller.integration_id)
        if last is None:
            return None
        return schemas.TelemetryCheckpoint(
            last_commit_sha=last.commit_sha,
            last_timestamp=schemas.iso_utc(last.commit_timestamp),
        )

    checkpoint = await run_in_threadpool(read)
    if checkpoint is None:
        return JSONResponse(
            {"lastCommitSha": None, "lastTimestamp": None}, status_code=status.HTTP_404_NOT_FOUND
        )
    return JSONResponse(checkpoint.model_dump(mode="json", by_alias=True))
