"""Integrations and API keys managed by hand (``clef-pro integrations``,
``clef-pro keys``), for platforms without Kubernetes.

Each change rewrites the integration's stored config through the same upsert
the config API uses, under the integration's row lock, so the key table and
the config never disagree. An integration the operator configured (its config
names a ``source`` resource) is the operator's: changing it here would be
undone at the next sync, so these use cases refuse, and say where to change
it instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clef_pro.domain.config import ApiKeyHash, IntegrationConfig, IntegrationSource
from clef_pro.domain.lifecycle import AlertStatus
from clef_pro_api.services import integrations
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.storage import models


class ManagedByOperator(Conflict):
    """The integration belongs to an Integration resource: change it there."""

    def __init__(self, integration_id: str, source: IntegrationSource) -> None:
        self.integration_id = integration_id
        self.source = source
        super().__init__(
            f"integration {integration_id} is managed by the Clef Pro operator, from the "
            f"Integration {source.name} in namespace {source.namespace}: change it there "
            f"(kubectl -n {source.namespace} edit integration {source.name}); a change made "
            "here would be undone at the operator's next sync"
        )


@dataclass(frozen=True, slots=True)
class KeyInfo:
    name: str
    #: The first hex digits of the key's SHA-256: tells keys apart, reveals nothing.
    fingerprint: str
    created_at: datetime | None
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    integration_id: str
    display_name: str
    repository: str | None
    tracked_branches: list[str]
    source: IntegrationSource | None
    keys: list[KeyInfo]
    policies: int
    channels: int
    last_commit_sha: str | None = None
    last_report_at: datetime | None = None
    open_alerts: dict[str, int] = field(default_factory=dict)


def _locked(session: Session, integration_id: str) -> models.Integration:
    integration = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if integration is None or integration.deleted_at is not None:
        raise NotFound(f"there is no integration {integration_id}")
    return integration


def _owned_here(integration_id: str, config: IntegrationConfig) -> None:
    if config.source is not None:
        raise ManagedByOperator(integration_id, config.source)


def create_integration(
    session: Session,
    integration_id: str,
    *,
    display_name: str,
    repository: str | None,
    tracked_branches: Sequence[str],
    keys: Sequence[ApiKeyHash],
) -> bool:
    """Create the integration; returns whether it revived a deleted one (whose
    history was kept). An integration that exists is a conflict."""
    existing = session.execute(
        select(models.Integration).where(models.Integration.id == integration_id).with_for_update()
    ).scalar_one_or_none()
    if existing is not None and existing.deleted_at is None:
        raise Conflict(f"integration {integration_id} already exists")
    config = IntegrationConfig(
        display_name=display_name,
        repository=repository,
        tracked_branches=list(tracked_branches),
        api_keys=list(keys),
    )
    integrations.upsert(session, integration_id, config)
    return existing is not None


def change_keys(
    session: Session,
    integration_id: str,
    change: Callable[[list[ApiKeyHash]], list[ApiKeyHash]],
) -> None:
    """Apply ``change`` to the integration's keys (``clef_pro.domain.keyring``)."""
    integration = _locked(session, integration_id)
    config = IntegrationConfig.model_validate(integration.config)
    _owned_here(integration_id, config)
    changed = config.model_copy(update={"api_keys": change(list(config.api_keys))})
    # Validate the whole document again, as the config API would.
    integrations.upsert(
        session, integration_id, IntegrationConfig.model_validate(changed.document())
    )


def delete_integration(session: Session, integration_id: str, *, purge: bool) -> None:
    integration = _locked(session, integration_id)
    _owned_here(integration_id, IntegrationConfig.model_validate(integration.config))
    integrations.remove(session, integration_id, purge=purge)


def _key_infos(session: Session, integration_ids: Sequence[str]) -> dict[str, list[KeyInfo]]:
    rows = session.execute(
        select(models.ApiKey)
        .where(models.ApiKey.integration_id.in_(integration_ids))
        .order_by(models.ApiKey.name, models.ApiKey.created_at)
    ).scalars()
    keys: dict[str, list[KeyInfo]] = defaultdict(list)
    for row in rows:
        keys[row.integration_id].append(
            KeyInfo(row.name, row.sha256[:12], row.created_at, row.expires_at)
        )
    return keys


def _info(integration: models.Integration, keys: list[KeyInfo]) -> IntegrationInfo:
    config = IntegrationConfig.model_validate(integration.config)
    return IntegrationInfo(
        integration_id=integration.id,
        display_name=config.display_name,
        repository=config.repository,
        tracked_branches=list(config.tracked_branches),
        source=config.source,
        keys=keys,
        policies=len(config.policies),
        channels=len(config.channels),
    )


def list_integrations(session: Session) -> list[IntegrationInfo]:
    """Every live integration, by id, with its keys (never a key itself)."""
    rows = session.scalars(
        select(models.Integration)
        .where(models.Integration.deleted_at.is_(None))
        .order_by(models.Integration.id)
    ).all()
    keys = _key_infos(session, [row.id for row in rows])
    return [_info(row, keys.get(row.id, [])) for row in rows]


def show_integration(session: Session, integration_id: str) -> IntegrationInfo:
    integration = session.get(models.Integration, integration_id)
    if integration is None or integration.deleted_at is not None:
        raise NotFound(f"there is no integration {integration_id}")
    info = _info(integration, _key_infos(session, [integration_id]).get(integration_id, []))
    newest = session.execute(
        select(models.Report.commit_sha, models.Report.received_at)
        .where(models.Report.integration_id == integration_id)
        .order_by(models.Report.commit_timestamp.desc(), models.Report.id.desc())
        .limit(1)
    ).one_or_none()
    counts: dict[str, int] = dict(
        session.execute(
            select(models.Alert.severity, func.count())
            .where(
                models.Alert.integration_id == integration_id,
                models.Alert.status == AlertStatus.OPEN,
            )
            .group_by(models.Alert.severity)
        ).all()
    )
    return replace(
        info,
        last_commit_sha=newest.commit_sha if newest else None,
        last_report_at=newest.received_at if newest else None,
        open_alerts=counts,
    )
