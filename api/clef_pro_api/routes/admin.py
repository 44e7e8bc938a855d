"""The config API the operator calls: ``PUT`` and ``DELETE /admin/v1/integrations/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from starlette import status

from clef_pro.domain.config import IntegrationConfig
from clef_pro.domain.destinations import IPNetwork, url_refusal
from clef_pro_api import schemas
from clef_pro_api.deps import AdminDep, IntegrationIdPath, SessionDep, SettingsDep
from clef_pro_api.errors import answers
from clef_pro_api.routes.bodies import json_body_only
from clef_pro_api.services import integrations, views

router = APIRouter(
    prefix="/admin/v1/integrations", tags=["config (operator)"], responses=answers(401, 403, 503)
)

IntegrationId = IntegrationIdPath


@router.put(
    "/{integration_id}",
    response_model=schemas.ConfigStored,
    responses={201: {"model": schemas.ConfigStored}, **answers(400, 409, 413, 415, 422)},
    dependencies=[Depends(json_body_only)],
)
def put_integration(
    integration_id: IntegrationId,
    config: IntegrationConfig,
    _admin: AdminDep,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
) -> schemas.ConfigStored:
    """Create or replace an integration's whole resolved config (idempotent).

    A channel URL whose host is an obviously internal literal or name is
    refused here (422 naming the field); every other destination is checked
    on the address it resolves to when a message is sent."""
    _refuse_internal_destinations(config, settings.allowed_networks)
    created = integrations.upsert(session, integration_id, config)
    session.commit()
    if created:
        response.status_code = status.HTTP_201_CREATED
    return schemas.ConfigStored(integration_id=integration_id, created=created)


def _refuse_internal_destinations(
    config: IntegrationConfig, allowed: tuple[IPNetwork, ...]
) -> None:
    errors = [
        {
            "loc": ("body", *location),
            "msg": f"must not point at {why}; internal receivers need their range in "
            "CLEF_PRO_NOTIFY_ALLOWED_NETWORKS",
            "type": "value_error",
        }
        for location, url in config.destinations()
        if (why := url_refusal(url, allowed)) is not None
    ]
    if errors:
        raise RequestValidationError(errors)


@router.delete(
    "/{integration_id}", status_code=status.HTTP_204_NO_CONTENT, responses=answers(404, 422)
)
def delete_integration(
    integration_id: IntegrationId,
    _admin: AdminDep,
    session: SessionDep,
    purge: Annotated[bool, Query(description="Also delete reports and alerts")] = False,
) -> None:
    """Revoke the integration's keys at once; keep its history unless ``purge``."""
    integrations.remove(session, integration_id, purge=purge)
    session.commit()


@router.get(
    "/{integration_id}/status",
    response_model=schemas.IntegrationStatus,
    responses=answers(404, 422),
)
def get_integration_status(
    integration_id: IntegrationId, _admin: AdminDep, session: SessionDep, settings: SettingsDep
) -> schemas.IntegrationStatus:
    """Last reported commit and open alerts by severity: counts only, for the
    operator to show on the Integration resource."""
    return views.integration_status(session, integration_id, settings.public_url)
