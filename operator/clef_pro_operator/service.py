"""The Clef Pro service's config API, as the operator calls it.

Transient failures (connection errors, 5xx) are retried a few times with
jittered backoff before they surface as :class:`ServiceUnavailable`; a 4xx is
the operator's own mistake and surfaces at once as :class:`ServiceRejected`.
Only key hashes are ever sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from clef_pro.domain.config import IntegrationConfig, IntegrationSource
from clef_pro_operator.settings import OperatorSettings


class ServiceUnavailable(Exception):
    """The service could not be reached or failed; try again later."""


class ServiceRejected(Exception):
    """The service refused the request; retrying the same request will not help."""


class IdTaken(ServiceRejected):
    """The integration id belongs to another source (another namespace's
    Integration, an earlier one of the same name, or one made by hand)."""


class ServiceClient:
    def __init__(self, settings: OperatorSettings, *, retries: int = 3) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(
            base_url=settings.service_url, timeout=settings.service_timeout_seconds
        )
        self._retries = retries

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self._settings.service_credentials()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self._retries),
            wait=wait_exponential_jitter(initial=0.2, max=3),
            retry=retry_if_exception_type(ServiceUnavailable),
            reraise=True,
        ):
            with attempt:
                try:
                    response = await self._http.request(method, path, headers=headers, **kwargs)
                except httpx.TransportError as error:
                    raise ServiceUnavailable(
                        f"{type(error).__name__} calling the service"
                    ) from None
                if response.status_code >= 500:
                    raise ServiceUnavailable(f"the service answered {response.status_code}")
                return response
        raise AssertionError("unreachable")

    @staticmethod
    def _path(integration_id: str) -> str:
        return f"/admin/v1/integrations/{quote(integration_id, safe='')}"

    async def put_config(self, integration_id: str, config: IntegrationConfig) -> None:
        response = await self._call("PUT", self._path(integration_id), json=config.document())
        if response.status_code == 409:
            raise IdTaken(_explain(response))
        if response.status_code not in (200, 201):
            raise ServiceRejected(_explain(response))

    async def delete(self, integration_id: str, source: IntegrationSource) -> bool:
        """Revoke the integration if ``source`` owns it; whether it did (an id
        another source owns, or none, is left alone)."""
        params = {"namespace": source.namespace, "name": source.name}
        if source.uid:
            params["uid"] = source.uid
        response = await self._call("DELETE", self._path(integration_id), params=params)
        if response.status_code in (404, 409):
            return False
        if response.status_code != 204:
            raise ServiceRejected(_explain(response))
        return True

    async def status(self, integration_id: str) -> dict[str, Any] | None:
        response = await self._call("GET", self._path(integration_id) + "/status")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceRejected(_explain(response))
        body: dict[str, Any] = response.json()
        return body


def _explain(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"the service answered {response.status_code}: {detail or response.reason_phrase}"
