"""Integrations: the CLI's checkpoint (contract) and the read API over them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from starlette import status

from clef_pro.domain.config import IntegrationConfig
from clef_pro_api import schemas
from clef_pro_api.deps import IntegrationIdPath, PrincipalDep, ReaderDep, SessionDep
from clef_pro_api.errors import answers
from clef_pro_api.services import views
from clef_pro_api.services.auth import CIKey
from clef_pro_api.services.ingest import last_commit
from clef_pro_api.services.views import AlertFilter

router = APIRouter(
    prefix="/api/v1/integrations", tags=["integrations"], responses=answers(401, 403, 503)
)


@router.get("", response_model=schemas.IntegrationList)
def list_integrations(
    _reader: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=views.INTEGRATION_PAGE_MAX)] = views.INTEGRATION_PAGE,
    cursor: Annotated[str | None, Query(max_length=4000)] = None,
) -> schemas.IntegrationList:
    """Integrations by name, a page at a time, each with its health at a glance."""
    return views.list_integrations(session, limit=limit, cursor=cursor)


@router.get(
    "/{integration_id}",
    response_model=schemas.Checkpoint,
    tags=["reports (CLI contract)"],
    responses=answers(404, 422),
)
def get_checkpoint(
    integration_id: IntegrationIdPath, caller: PrincipalDep, session: SessionDep
) -> schemas.Checkpoint:
    """Where the last report stopped, and what the CLI should collect and evaluate."""
    if isinstance(caller, CIKey) and caller.integration_id != integration_id:
        # Never reveal that another integration exists.
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
    integration = views.get_integration(session, integration_id)
    config = IntegrationConfig.model_validate(integration.config)
    last = last_commit(session, integration_id)
    return schemas.Checkpoint(
        last_commit_sha=last.commit_sha if last is not None else None,
        config=schemas.CheckpointConfig(
            collect_ci_context=config.collection.ci_context,
            policies=[_policy_for_cli(rule) for rule in config.policies],
        ),
    )


def _policy_for_cli(rule: Any) -> dict[str, Any]:
    # The CLI reads a rule's parameters beside its identity (e.g. maxAgeDays).
    return {**rule.params, **rule.model_dump(mode="json", by_alias=True, exclude={"params"})}


@router.get(
    "/{integration_id}/matrix", response_model=schemas.MatrixView, responses=answers(404, 409, 422)
)
def get_matrix(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    commit: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F]{4,64}$")] = None,
) -> schemas.MatrixView:
    """The namespace x environment matrix at the HEAD, or at ``commit``."""
    return views.matrix(session, integration_id, commit)


@router.get(
    "/{integration_id}/reports", response_model=schemas.ReportPage, responses=answers(404, 422)
)
def list_reports(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.ReportPage:
    """Report history, newest commit first."""
    return views.report_history(session, integration_id, limit=limit, cursor=cursor)


@router.get(
    "/{integration_id}/lint-results", response_model=schemas.LintPage, responses=answers(404, 422)
)
def list_lint_results(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.LintPage:
    """``clef lint --push`` results of today's CLI, newest first: the first is
    the integration's current lint."""
    return views.lint_results(session, integration_id, limit=limit, cursor=cursor)


@router.get(
    "/{integration_id}/drift-results",
    response_model=schemas.DriftPage,
    responses=answers(404, 422),
)
def list_drift_results(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.DriftPage:
    """``clef drift --push`` results of today's CLI, newest first: per drifted
    namespace, the environments a key is missing from (never the key)."""
    return views.drift_results(session, integration_id, limit=limit, cursor=cursor)


@router.get(
    "/{integration_id}/alerts", response_model=schemas.AlertList, responses=answers(404, 422)
)
def list_alerts(
    integration_id: IntegrationIdPath,
    _reader: ReaderDep,
    session: SessionDep,
    status: AlertFilter = "open",
    limit: Annotated[int, Query(ge=1, le=views.ALERT_PAGE_MAX)] = views.ALERT_PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> schemas.AlertList:
    """A page of alerts, newest opened first; ``nextCursor`` fetches the next
    (``acknowledged``: open alerts someone acknowledged)."""
    return views.list_alerts(session, integration_id, status, limit=limit, cursor=cursor)
