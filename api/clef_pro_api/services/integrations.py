"""The config API's use cases: upsert an integration's resolved config, delete it.

The operator owns configuration; the service keeps the latest whole document
it was sent. An upsert replaces the API key set, so a key removed from the
resource stops working at the commit of that upsert.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clef_pro.domain.config import ApiKeyHash, IntegrationConfig
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow


def upsert(session: Session, integration_id: str, config: IntegrationConfig) -> bool:
    """Store ``config`` for the integration; returns whether it was created."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    created = integration is None
    if integration is None:
        integration = models.Integration(id=integration_id)
        session.add(integration)
    integration.display_name = config.display_name
    integration.config = config.document()
    integration.deleted_at = None
    window = config.silent_after  # expectReportsEvery: when to look for silence
    integration.silence_check_at = (
        (integration.last_head_at or utcnow()) + window if window is not None else None
    )
    _replace_api_keys(session, integration_id, {key.sha256: key for key in config.api_keys})
    return created


def _replace_api_keys(session: Session, integration_id: str, wanted: dict[str, ApiKeyHash]) -> None:
    taken = session.scalars(
        select(models.ApiKey.sha256).where(
            models.ApiKey.sha256.in_(wanted), models.ApiKey.integration_id != integration_id
        )
    ).first()
    if taken is not None:
        raise Conflict("an API key of this config already belongs to another integration")
    current = {
        key.sha256: key
        for key in session.scalars(
            select(models.ApiKey).where(models.ApiKey.integration_id == integration_id)
        )
    }
    for digest, key in current.items():
        if digest not in wanted:
            session.delete(key)
        else:
            key.name = wanted[digest].name
            key.expires_at = wanted[digest].expires_at
    for digest, spec in wanted.items():
        if digest not in current:
            session.add(
                models.ApiKey(
                    sha256=digest,
                    integration_id=integration_id,
                    name=spec.name,
                    expires_at=spec.expires_at,
                )
            )


def remove(session: Session, integration_id: str, *, purge: bool) -> None:
    """Revoke the integration's keys at once; keep its history unless ``purge``."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None:
        raise NotFound(integration_id)
    session.execute(delete(models.ApiKey).where(models.ApiKey.integration_id == integration_id))
    if purge:
        session.delete(integration)
    else:
        integration.deleted_at = utcnow()
