"""The config API's use cases: upsert an integration's resolved config, delete it.

The operator owns configuration; the service keeps the latest whole document
it was sent. An upsert replaces the API key set, so a key removed from the
resource stops working at the commit of that upsert.

Integration ids are chosen by users, so an id has an owner: the Integration
resource (namespace, name, uid) whose first upsert created it, or nobody for
an integration made by hand. Another source is refused with ``409`` (a tenant
of one namespace must not take over another's keys, channels and dashboard
access), and a deletion naming a source removes only what that source owns.
An owned id stays owned while its history is kept; purging frees it.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from clef_pro.domain.config import ApiKeyHash, IntegrationConfig, IntegrationSource
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow


class OwnedElsewhere(Conflict):
    """The integration id belongs to another source than the one that asked."""


def owner(integration: models.Integration) -> IntegrationSource | None:
    """The Integration resource that owns ``integration`` (``None``: made by hand)."""
    if integration.owner_namespace is None or integration.owner_name is None:
        return None
    return IntegrationSource(
        namespace=integration.owner_namespace,
        name=integration.owner_name,
        uid=integration.owner_uid,
    )


def _same_resource(a: IntegrationSource, b: IntegrationSource) -> bool:
    """The same namespace and name, and the same uid where both are known (an
    id recorded before uids were kept is claimed by the next sync's uid)."""
    if (a.namespace, a.name) != (b.namespace, b.name):
        return False
    return a.uid is None or b.uid is None or a.uid == b.uid


def check_owner(
    integration_id: str, integration: models.Integration, source: IntegrationSource | None
) -> None:
    """Raise :class:`OwnedElsewhere` unless ``source`` may change ``integration``."""
    current = owner(integration)
    live = integration.deleted_at is None
    if current is None:
        if source is not None and live:
            raise OwnedElsewhere(
                f"integration id {integration_id} is taken by an integration configured by "
                f"hand; {source.describe()} cannot take it over: choose another "
                "spec.integrationId"
            )
        return
    if source is None:
        raise OwnedElsewhere(
            f"integration id {integration_id} belongs to {current.describe()}"
            + ("" if live else " (deleted, its history kept until purged)")
            + ": change it there"
        )
    if (current.namespace, current.name) != (source.namespace, source.name):
        raise OwnedElsewhere(
            f"integration id {integration_id} already belongs to another Integration "
            "resource: choose another spec.integrationId"
        )
    if live and not _same_resource(current, source):
        raise OwnedElsewhere(
            f"integration id {integration_id} still belongs to an earlier {current.describe()} "
            "(another uid): delete the earlier resource's integration first"
        )


def upsert(session: Session, integration_id: str, config: IntegrationConfig) -> bool:
    """Store ``config`` for the integration; returns whether it was created.

    Raises :class:`OwnedElsewhere` if the id belongs to another source."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    created = integration is None
    if integration is None:
        integration = models.Integration(id=integration_id)
        session.add(integration)
    else:
        check_owner(integration_id, integration, config.source)
    if config.source is not None:
        integration.owner_namespace = config.source.namespace
        integration.owner_name = config.source.name
        integration.owner_uid = config.source.uid or integration.owner_uid
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


def remove(
    session: Session,
    integration_id: str,
    *,
    purge: bool,
    source: IntegrationSource | None = None,
) -> None:
    """Revoke the integration's keys at once; keep its history unless ``purge``.

    With a ``source`` (the operator's deletions), only an integration that
    source owns is touched: anything else raises :class:`OwnedElsewhere`."""
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None:
        raise NotFound(integration_id)
    if source is not None:
        current = owner(integration)
        if current is None or not _same_resource(current, source):
            raise OwnedElsewhere(
                f"integration id {integration_id} does not belong to {source.describe()}; "
                "nothing of it was revoked"
            )
    session.execute(delete(models.ApiKey).where(models.ApiKey.integration_id == integration_id))
    if purge:
        session.delete(integration)
    else:
        integration.deleted_at = utcnow()
