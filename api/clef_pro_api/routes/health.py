"""Probes and metrics. Readiness means: the database answers and its schema is current.

``/metrics`` is scraped often by every Prometheus that finds it: a scrape reads
the database at most once per ``CLEF_PRO_METRICS_REFRESH_SECONDS`` (the outbox
backlog gauges; everything else is counted in memory as it happens), and with
``CLEF_PRO_METRICS_TOKEN`` set it answers only Prometheus.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import time

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette import status

from clef_pro_api.deps import Attempts, too_many_failures
from clef_pro_api.services import notification_views
from clef_pro_api.services.ratelimit import TooManyFailures
from clef_pro_api.settings import Settings
from clef_pro_api.storage.migrate import schema_state
from clef_pro_api.storage.models import utcnow

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "The database is unreachable or its schema is behind"}},
)
def readyz(request: Request, response: Response) -> dict[str, str]:
    engine: Engine = request.app.state.engine
    try:
        state = schema_state(engine)
    except Exception as error:  # any database failure means not ready
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "database unreachable", "error": type(error).__name__}
    if not state.is_current:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "schema behind", "current": str(state.current), "head": state.head}
    return {"status": "ready"}


class GaugeRefresh:
    """When the database-backed gauges are next read: once per interval, by
    one scrape at a time (concurrent scrapes serve the figures as they are)."""

    def __init__(self, every_seconds: float) -> None:
        self._every = every_seconds
        self._next = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                return False
            self._next = now + self._every
            return True


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    _require_metrics_token(request, settings)
    refresh: GaugeRefresh = request.app.state.gauge_refresh
    if refresh.due():
        # On a database failure the gauges keep their last values; /readyz tells.
        with contextlib.suppress(SQLAlchemyError), request.app.state.sessions() as session:
            notification_views.publish_backlog(session, now=utcnow())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _require_metrics_token(request: Request, settings: Settings) -> None:
    expected = settings.metrics_token_value
    if expected is None:
        return
    attempts = Attempts(request, "metrics-token")
    try:
        attempts.check()
    except TooManyFailures as error:
        raise too_many_failures(error) from None
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    ):
        return
    attempts.failed()
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "metrics need the metrics token as a bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )
