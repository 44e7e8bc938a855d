"""What the operator reads and writes in the Kubernetes API, besides what Kopf does.

Secrets are written with server-side apply under one field manager, so a key
removed from an Integration disappears from its Secret without a read-modify-
write race, and fields other tools own are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.authentication_v1 import SelfSubjectReview
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from clef_pro_operator.keys import decode_secret_data, encode_secret_data
from clef_pro_operator.resources import GROUP, VERSION

FIELD_MANAGER = "clef-pro-operator"

Integration = create_namespaced_resource(GROUP, VERSION, "Integration", "integrations")
Policy = create_namespaced_resource(GROUP, VERSION, "Policy", "policies")
NotificationChannel = create_namespaced_resource(
    GROUP, VERSION, "NotificationChannel", "notificationchannels"
)
STATUS_RESOURCES = {
    "Integration": Integration,
    "Policy": Policy,
    "NotificationChannel": NotificationChannel,
}


@dataclass(frozen=True, slots=True)
class StoredSecret:
    data: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True, slots=True)
class Owner:
    api_version: str
    kind: str
    name: str
    uid: str


class Kube:
    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER)

    async def aclose(self) -> None:
        await self.client.close()

    async def get_secret(self, namespace: str, name: str) -> StoredSecret | None:
        try:
            secret = await self.client.get(Secret, name, namespace=namespace)
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise
        return StoredSecret(
            data=decode_secret_data(secret.data),
            annotations=dict(secret.metadata.annotations or {}) if secret.metadata else {},
        )

    async def apply_secret(
        self,
        namespace: str,
        name: str,
        data: Mapping[str, str],
        annotations: Mapping[str, str],
        owner: Owner,
    ) -> None:
        secret = Secret(
            apiVersion="v1",
            kind="Secret",
            metadata=ObjectMeta(
                name=name,
                namespace=namespace,
                annotations=dict(annotations),
                labels={
                    "app.kubernetes.io/managed-by": FIELD_MANAGER,
                    "pro.clef.sh/integration": owner.name,
                },
                ownerReferences=[
                    OwnerReference(
                        apiVersion=owner.api_version,
                        kind=owner.kind,
                        name=owner.name,
                        uid=owner.uid,
                        controller=True,
                        blockOwnerDeletion=True,
                    )
                ],
            ),
            type="Opaque",
            data=encode_secret_data(data),
        )
        await self.client.apply(secret, field_manager=FIELD_MANAGER, force=True)

    async def delete_secret(self, namespace: str, name: str) -> None:
        try:
            await self.client.delete(Secret, name, namespace=namespace)
        except ApiError as error:
            if error.status.code != 404:
                raise

    async def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        stored = await self.get_secret(namespace, name)
        return None if stored is None else stored.data.get(key)

    async def patch_status(
        self, kind: str, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        try:
            await self.client.patch(
                STATUS_RESOURCES[kind].Status,
                name,
                {"status": dict(status)},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as error:
            if error.status.code != 404:  # deleted meanwhile: nothing to report on
                raise

    async def reachable(self) -> None:
        """A cheap authenticated call every identity may make: raises if the API
        server cannot be used with our credentials."""
        await self.client.create(SelfSubjectReview())
