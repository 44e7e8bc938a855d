"""Who is calling: a CI API key bound to one integration, or an administrator.

CI keys are matched by the SHA-256 of the presented key (the only form stored)
and the stored digest is compared again in constant time. Keys are random, so
a lookup by their digest leaks nothing an attacker can use.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import Session

from clef_pro.domain import apikeys
from clef_pro_api.storage.models import ApiKey, Integration, utcnow


@dataclass(frozen=True, slots=True)
class CIKey:
    """A CI job: may submit reports and read its own integration's checkpoint."""

    integration_id: str
    key_name: str


@dataclass(frozen=True, slots=True)
class Administrator:
    """The holder of the admin token: config and read APIs, every integration."""

    name: str = "admin"


Principal = CIKey | Administrator


def resolve_api_key(session: Session | Connection, presented: str) -> CIKey | None:
    if not apikeys.is_well_formed(presented):
        return None
    digest = apikeys.sha256_hex(presented)
    row = session.execute(
        select(ApiKey.sha256, ApiKey.name, ApiKey.integration_id)
        .join(Integration)
        .where(
            ApiKey.sha256 == digest,
            Integration.deleted_at.is_(None),
            # A rotated-out key works until its grace period ends, not after.
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.sha256, digest):
        return None
    return CIKey(integration_id=row.integration_id, key_name=row.name)


def looks_like_api_key(presented: str) -> bool:
    """Keys carry a fixed prefix; anything else is not worth a database lookup."""
    return presented.startswith(apikeys.PREFIX)


def operator_identity(service_account: str | None) -> str | None:
    """``namespace:name`` -> the username Kubernetes gives that ServiceAccount."""
    if service_account is None:
        return None
    namespace, name = service_account.split(":", 1)
    return f"system:serviceaccount:{namespace}:{name}"


def is_admin_token(presented: str, admin_token: str | None) -> bool:
    return admin_token is not None and hmac.compare_digest(presented.encode(), admin_token.encode())
