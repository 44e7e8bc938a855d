"""Probes and metrics. Readiness means: the database answers and its schema is current."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette import status

from clef_pro_api.deps import SessionDep
from clef_pro_api.services import notification_views
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


@router.get("/metrics", include_in_schema=False)
def metrics(session: SessionDep) -> Response:
    # On a database failure the gauges keep their last values; /readyz tells.
    with contextlib.suppress(SQLAlchemyError):
        notification_views.publish_backlog(session, now=utcnow())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
