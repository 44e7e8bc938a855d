"""The alerts page over a long history: one page of alerts per tab, the tabs
counted by one grouped statement, the notification state of the whole page
read in one statement, and the mean time to resolve over a bounded number of
resolutions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from clef_pro_api.dashboard import pages
from clef_pro_api.dashboard.pages import ALERTS_PAGE
from clef_pro_api.services import insights, views
from tests.dashboard.conftest import sign_in
from tests.dashboard.test_history_pages import counted
from tests.dashboard.test_pages import text
from tests.support.service import ServiceClient
from tests.support.volume import Volume, report_sha, seed_volume


@pytest.fixture
def volume(http: TestClient, database_url: str) -> Volume:
    # 30 reports; 70 alerts besides the HEAD's two: 10 open (5 acknowledged), 60 resolved.
    seeded = seed_volume(
        ServiceClient(http),
        database_url.replace("postgresql+psycopg://", "postgresql://"),
        "payments",
        reports=30,
        alerts=70,
        open_alerts=10,
    )
    sign_in(http)
    return seeded


def cards(page: str) -> list[str]:
    return [chunk.split('"', 1)[0] for chunk in page.split('data-alert-id="')[1:]]


def test_tabs_are_counted_and_a_tab_shows_one_page(http: TestClient, volume: Volume) -> None:
    page = http.get("/integrations/payments/alerts?status=resolved")
    assert page.status_code == 200
    shown = text(page)
    assert "Open 12" in shown
    assert "Acknowledged 5" in shown
    assert "Resolved 60" in shown
    first = cards(page.text)
    assert len(first) == ALERTS_PAGE
    assert "Older alerts" in shown
    cursor = page.text.split("before=", 1)[1].split('"', 1)[0]

    following = http.get(f"/integrations/payments/alerts?status=resolved&before={cursor}")
    assert following.status_code == 200
    second = cards(following.text)
    assert len(second) == ALERTS_PAGE
    assert not set(first) & set(second)
    assert "Newest alerts" in text(following)
    # A cursor this page never gave out is the first page, not an error.
    again = http.get("/integrations/payments/alerts?status=resolved&before=nonsense")
    assert cards(again.text) == first


def test_the_tabs_cost_a_fixed_number_of_statements_none_per_alert(
    http: TestClient, volume: Volume
) -> None:
    for status in ("open", "acknowledged", "resolved"):
        with counted(http) as seen:
            page = http.get(f"/integrations/payments/alerts?status={status}")
        assert page.status_code == 200
        grouped = [sql for sql in seen if "GROUP BY alerts.status, alerts.acknowledged" in sql]
        assert len(grouped) == 1, status
        assert len([sql for sql in seen if "notification_alerts" in sql]) == 1, status
        assert len(seen) <= 8, (status, len(seen))


def test_a_resolved_alerts_card_shows_where_its_notification_stands(
    http: TestClient, volume: Volume
) -> None:
    page = http.get("/integrations/payments/alerts?status=resolved")
    card = page.text.split(f'data-alert-id="{cards(page.text)[0]}"', 1)[1].split("</article>")[0]
    assert "ops-mail" in card
    assert "(email)" in card


def test_the_dashboard_finds_an_old_commit_by_a_prefix(http: TestClient, volume: Volume) -> None:
    old = report_sha(5)
    page = http.get(f"/integrations/payments?commit={old[:10]}")
    assert page.status_code == 200
    assert old[:7] in text(page)


def test_mean_time_to_resolve_averages_only_the_newest_resolutions(
    http: TestClient, volume: Volume
) -> None:
    engine = http.app.state.engine  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with Session(engine) as session:
        everything = insights.mean_time_to_resolve(session, "payments", now=now)
        newest = insights.mean_time_to_resolve(session, "payments", now=now, newest=10)
    assert sum(row.resolved for row in everything) == 60
    assert sum(row.resolved for row in newest) == 10
    # The seeded alerts cycle through 40 rules; the newest 10 resolved are
    # indices 50..59, so rules 10..19.
    assert {row.rule_id for row in newest} == {f"bench_rule_{index}" for index in range(10, 20)}


def test_the_overview_is_a_page_of_integrations_by_name(
    http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ServiceClient(http)
    for name in ["echo", "alpha", "delta", "charlie", "bravo"]:
        client.put_integration(name)
    sign_in(http)
    monkeypatch.setattr(pages, "OVERVIEW_PAGE", 3)
    first = http.get("/")
    assert first.status_code == 200
    assert "Alpha" in text(first)
    assert "Echo" not in text(first)
    more = first.text.split("after=", 1)[1].split('"', 1)[0]
    second = http.get(f"/?sort=name&after={more}")
    assert "Echo" in text(second)
    assert "Delta" in text(second)
    assert "Alpha" not in text(second)
    assert "First integrations" in text(second)


def test_the_resolved_tab_counts_up_to_its_cap_and_says_there_are_more(
    http: TestClient, volume: Volume, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = http.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        exact = views.alert_tab_counts(session, "payments")
        capped = views.alert_tab_counts(session, "payments", resolved_cap=50)
    assert (exact.open, exact.acknowledged, exact.resolved) == (12, 5, 60)
    assert not exact.more_resolved
    assert (capped.open, capped.acknowledged, capped.resolved) == (12, 5, 50)
    assert capped.more_resolved
    monkeypatch.setattr(views, "RESOLVED_COUNT_CAP", 50)
    shown = text(http.get("/integrations/payments/alerts"))
    assert "Resolved 50+" in shown
    assert "Open 12" in shown
