"""A dashboard address with a NUL or a forged cursor is a 404 or the first page, never a 500.

PostgreSQL fails on a NUL in a query (SQLite would look it up), so the pages
refuse such ids and cursors before any query.
"""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.conftest import csrf_of, sign_in
from tests.support.dashboard import Seeded


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/integrations/a%00b",
        "/integrations/a%00b/alerts",
        "/integrations/{id}/alerts/a%00b",
        "/integrations/{id}/alerts/a%00b/acknowledge",
    ],
)
def test_a_nul_in_a_dashboard_id_is_not_found(http: TestClient, seeded: Seeded, path: str) -> None:
    sign_in(http)
    response = http.get(path.format(id="payments"))
    assert response.status_code == 404


def test_acknowledging_an_alert_id_with_a_nul_is_not_found(
    http: TestClient, seeded: Seeded
) -> None:
    sign_in(http)
    page = http.get(f"/integrations/{'payments'}/alerts")
    response = http.post(
        f"/integrations/{'payments'}/alerts/a%00b/acknowledge",
        data={"csrf": csrf_of(page.text)},
        headers={"Origin": "http://testserver"},
    )
    assert response.status_code == 404


@pytest.mark.parametrize("raw", [f'[{2**63},"x"]', '[5,"\\u0000"]', '["x","\\u0000"]'])
def test_a_forged_history_cursor_shows_the_first_page_not_a_500(
    http: TestClient, seeded: Seeded, raw: str
) -> None:
    sign_in(http)
    response = http.get(f"/integrations/{'payments'}", params={"before": _cursor(raw)})
    # As for any cursor the page did not hand out: history starts again at the top.
    assert response.status_code == 200
