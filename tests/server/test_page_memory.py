"""No page can take a replica past the chart's memory limit: the pages that
once read every alert (the dashboard's alert tabs, ``alerts?status=all``, an
alert's notifications, the deepest history pages) are driven at 20,000 alerts,
several at once, against a real server process on Postgres, and its peak
resident memory must stay under the limit the Helm chart gives the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.server import ServerProcess
from tests.support.service import ADMIN_TOKEN, ServiceClient, admin_headers
from tests.support.volume import seed_volume

pytestmark = [pytest.mark.postgres, pytest.mark.server]

VALUES = Path(__file__).parents[2] / "charts" / "clef-pro" / "values.yaml"
UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "": 1}
#: No single answer may carry more than this (a page, never the history).
MAX_RESPONSE_BYTES = 2 * 1024**2


def chart_memory_limit() -> int:
    limit = str(yaml.safe_load(VALUES.read_text())["api"]["resources"]["limits"]["memory"])
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi|)", limit)
    assert match, limit
    return int(match[1]) * UNITS[match[2]]


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_the_worst_pages_at_20000_alerts_stay_under_the_charts_memory_limit(
    start_service: Callable[..., ServerProcess], database_url: str
) -> None:
    limit = chart_memory_limit()
    server = start_service()
    with server.client() as admin:
        volume = seed_volume(
            ServiceClient(admin),
            database_url.replace("postgresql+psycopg://", "postgresql://"),
            "payments",
            reports=2_000,
            alerts=20_000,
        )

    def walk_all_alerts(client: httpx.Client) -> int:
        seen, cursor = 0, None
        while True:
            params: dict[str, str | int] = {"status": "all", "limit": 500}
            if cursor:
                params["cursor"] = cursor
            response = client.get("/api/v1/integrations/payments/alerts", params=params)
            assert response.status_code == 200, response.text
            assert len(response.content) < MAX_RESPONSE_BYTES
            page = response.json()
            seen += len(page["items"])
            cursor = page["nextCursor"]
            if cursor is None:
                return seen

    resolved = volume.resolved_alert_ids[0]
    pages = [
        "/integrations/payments/alerts",
        "/integrations/payments/alerts?status=acknowledged",
        "/integrations/payments/alerts?status=resolved",
        f"/integrations/payments/alerts/{resolved}",
        "/integrations/payments",
        "/",
        "/api/v1/integrations/payments/alerts?status=resolved&limit=500",
        "/api/v1/integrations/payments/reports?limit=500",
        "/api/v1/integrations/payments/notifications?limit=500",
        f"/api/v1/alerts/{resolved}/notifications?limit=500",
    ]

    def drive(worker: int) -> int:
        with httpx.Client(
            base_url=server.url, timeout=120, headers=admin_headers(), follow_redirects=False
        ) as client:
            signed_in = client.post("/sign-in", data={"token": ADMIN_TOKEN, "next": "/"})
            assert signed_in.status_code == 303
            for _ in range(3):
                for path in pages:
                    response = client.get(path)
                    assert response.status_code == 200, (path, response.status_code)
                    assert len(response.content) < MAX_RESPONSE_BYTES, path
            return walk_all_alerts(client) if worker < 2 else 0

    with ThreadPoolExecutor(4) as pool:
        walked = list(pool.map(drive, range(4)))
    # Every alert reached page by page: the 20,000 and the two the HEAD opened.
    assert walked[:2] == [20_002, 20_002]
    peak = peak_rss(server.process.pid)
    assert peak < limit, f"peak RSS {peak / 1024**2:.0f} MiB over the chart's {limit / 1024**2:.0f}"
