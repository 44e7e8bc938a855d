"""Talking to the service in tests: configure integrations, submit, read."""

from __future__ import annotations

from typing import Any

from clef_pro.domain import apikeys

ADMIN_TOKEN = "test-admin-token-0123456789abcdef"


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def key_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


#: An httpx client for a real server, or Starlette's in-process TestClient
#: (which is built on the httpx2 fork); both speak the same API.
HTTPClient = Any


class ServiceClient:
    """A thin test client over either kind of HTTP client."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    def put_integration(self, integration_id: str, *, keys: int = 1, **config: Any) -> list[str]:
        """Create or replace an integration; returns freshly minted API keys."""
        minted = [apikeys.generate_api_key() for _ in range(keys)]
        body = {
            "displayName": integration_id.title(),
            "apiKeys": [
                {"name": f"key-{index}", "sha256": apikeys.sha256_hex(key)}
                for index, key in enumerate(minted)
            ],
            **config,
        }
        response = self.http.put(
            f"/admin/v1/integrations/{integration_id}", json=body, headers=admin_headers()
        )
        assert response.status_code in (200, 201), response.text
        return minted

    def submit(self, key: str, report: dict[str, Any]) -> Any:
        return self.http.post("/api/v1/reports", json=report, headers=key_headers(key))

    def submit_ok(self, key: str, report: dict[str, Any]) -> dict[str, Any]:
        response = self.submit(key, report)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def batch(self, key: str, reports: list[dict[str, Any]]) -> Any:
        return self.http.post(
            "/api/v1/reports/batch", json={"reports": reports}, headers=key_headers(key)
        )

    def read(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params, headers=admin_headers())
        assert response.status_code == 200, response.text
        return response.json()

    def alerts(self, integration_id: str, status: str = "all") -> list[dict[str, Any]]:
        """Every alert of ``status``, newest opened first, page after page."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"status": status, "limit": 500}
        while True:
            page = self.read(f"/api/v1/integrations/{integration_id}/alerts", **params)
            items += page["items"]
            if page["nextCursor"] is None:
                return items
            params["cursor"] = page["nextCursor"]

    def acknowledge(self, alert_id: str, acknowledge_for: str | None = None) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/alerts/{alert_id}/acknowledge",
            headers=admin_headers(),
            json={"acknowledgeFor": acknowledge_for} if acknowledge_for else None,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body
