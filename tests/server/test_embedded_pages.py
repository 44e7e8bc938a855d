"""The dashboard's pictures and timelines on the embedded default (SQLite),
whose times are text: the mean time to resolve and timeline paging must read
them right there too."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.contract import sha
from tests.support.dashboard import HEAD_TIME, head_report, seed
from tests.support.server import start_server
from tests.support.service import ADMIN_TOKEN, ServiceClient

pytestmark = pytest.mark.server


def test_pictures_and_timelines_on_sqlite(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path), "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN},
        tmp_path / "log",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            client = ServiceClient(http)
            seeded = seed(client)
            for n in range(27):
                body = head_report()
                body["commitSha"] = sha(f"6{n:03d}")
                body["commitTimestamp"] = HEAD_TIME + (n + 1) * 60_000
                client.submit_ok(seeded.api_key, body)
            signed = http.post("/sign-in", data={"token": ADMIN_TOKEN, "next": "/"})
            assert signed.status_code == 303

            page = http.get("/integrations/payments").text
            assert 'class="trend-chart"' in page
            assert page.count('class="point"') == 29
            assert re.search(r'data-rule="min_recipients".*?minute', page, re.DOTALL)

            alert = seeded.alerts["missing_keys"]
            first = http.get(f"/integrations/payments/alerts/{alert}").text
            assert first.count('class="event event-') == 25
            cursor = first.split("?before=", 1)[1].split('"', 1)[0]
            second = http.get(f"/integrations/payments/alerts/{alert}?before={cursor}").text
            assert second.count('class="event event-') == 3
            assert 'data-kind="opened"' in second
            assert 'class="sparkline"' in http.get("/").text
    finally:
        server.stop()


def test_paged_listings_tab_counts_and_commit_prefixes_on_sqlite(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path), "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN},
        tmp_path / "log",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            client = ServiceClient(http)
            seed(client)
            everything = client.alerts("payments")
            one_by_one, cursor = [], None
            while True:
                params = {"status": "all", "limit": 1} | ({"cursor": cursor} if cursor else {})
                page = client.read("/api/v1/integrations/payments/alerts", **params)
                one_by_one += page["items"]
                cursor = page["nextCursor"]
                if cursor is None:
                    break
            assert len(everything) > 2
            assert [alert["id"] for alert in one_by_one] == [alert["id"] for alert in everything]
            alert = everything[-1]["id"]
            notes = client.read(f"/api/v1/alerts/{alert}/notifications", limit=1)
            assert len(notes["items"]) <= 1

            head = client.read("/api/v1/integrations/payments/matrix")["commit"]["commitSha"]
            prefixed = client.read("/api/v1/integrations/payments/matrix", commit=head[:9])
            assert prefixed["commit"]["commitSha"] == head

            signed = http.post("/sign-in", data={"token": ADMIN_TOKEN, "next": "/"})
            assert signed.status_code == 303
            resolved = len(client.alerts("payments", "resolved"))
            for status in ("open", "acknowledged", "resolved"):
                tab = http.get(f"/integrations/payments/alerts?status={status}")
                assert tab.status_code == 200
            shown = http.get("/integrations/payments/alerts?status=resolved").text
            assert re.search(rf"Resolved <span class=\"pill\">{resolved}</span>", shown)
    finally:
        server.stop()
