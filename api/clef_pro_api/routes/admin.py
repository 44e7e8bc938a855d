"""The config API the operator calls: ``PUT`` and ``DELETE /admin/v1/integrations/{id}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette import status

from clef_pro.domain.config import IntegrationConfig, IntegrationSource
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
    responses={
        201: {"model": schemas.ConfigStored},
        **answers(400, 409, 413, 415, 422),
        409: {
            "description": "The id belongs to another source (an Integration resource "
            "of another namespace, name or uid, or an integration made by hand)"
        },
    },
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

    The first upsert from an Integration resource (``source``: namespace,
    name, uid) makes it the id's owner; any other source gets ``409``.

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
    "/{integration_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **answers(404, 422),
        409: {"description": "The integration does not belong to the named source"},
    },
)
def delete_integration(
    integration_id: IntegrationId,
    _admin: AdminDep,
    session: SessionDep,
    *,
    purge: Annotated[bool, Query(description="Also delete reports and alerts")] = False,
    namespace: Annotated[
        str | None, Query(max_length=63, description="Owning Integration's namespace")
    ] = None,
    name: Annotated[str | None, Query(max_length=253, description="Its name")] = None,
    uid: Annotated[str | None, Query(max_length=64, description="Its uid")] = None,
) -> None:
    """Revoke the integration's keys at once; keep its history unless ``purge``.

    The operator names the Integration resource being deleted (``namespace``,
    ``name``, ``uid``): an integration owned by anything else is left alone
    (``409``)."""
    source = _source(namespace, name, uid)
    integrations.remove(session, integration_id, purge=purge, source=source)
    session.commit()


def _source(namespace: str | None, name: str | None, uid: str | None) -> IntegrationSource | None:
    if namespace is None and name is None and uid is None:
        return None
    try:
        return IntegrationSource(namespace=namespace or "", name=name or "", uid=uid)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**detail, "loc": ("query", *detail["loc"])}
                for detail in error.errors(include_input=False, include_url=False)
            ]
        ) from None


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
