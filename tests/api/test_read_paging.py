"""Every listing of the read API is a page: alerts and an alert's notifications
keyset-paged like reports, old commits found by index (exact match, then a
prefix range), and nothing answered with the whole history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from tests.support.contract import sha, spec_report
from tests.support.service import ServiceClient, admin_headers
from tests.support.volume import Volume, report_sha, seed_volume


def dsn(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def volume(service: ServiceClient, database_url: str) -> Volume:
    # 40 reports; 70 alerts besides the HEAD's two: 10 open (5 acknowledged), 60 resolved.
    return seed_volume(
        service, dsn(database_url), "payments", reports=40, alerts=70, open_alerts=10
    )


@contextmanager
def statements(service: ServiceClient) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = service.http.app.state.engine

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def walk(service: ServiceClient, path: str, **params: Any) -> list[list[dict[str, Any]]]:
    pages = []
    while True:
        page = service.read(path, **params)
        pages.append(page["items"])
        if page["nextCursor"] is None:
            return pages
        params["cursor"] = page["nextCursor"]


def test_all_alerts_come_a_page_at_a_time_newest_opened_first(
    service: ServiceClient, volume: Volume
) -> None:
    pages = walk(service, "/api/v1/integrations/payments/alerts", status="all", limit=20)
    assert [len(page) for page in pages] == [20, 20, 20, 12]
    alerts = [alert for page in pages for alert in page]
    assert len({alert["id"] for alert in alerts}) == 72
    opened = [(alert["openedAt"], alert["id"]) for alert in alerts]
    assert opened == sorted(opened, reverse=True)


@pytest.mark.parametrize(("status", "count"), [("open", 12), ("acknowledged", 5), ("resolved", 60)])
def test_each_status_is_paged_and_holds_only_its_alerts(
    service: ServiceClient, volume: Volume, status: str, count: int
) -> None:
    pages = walk(service, "/api/v1/integrations/payments/alerts", status=status, limit=7)
    alerts = [alert for page in pages for alert in page]
    assert all(len(page) <= 7 for page in pages)
    assert len({alert["id"] for alert in alerts}) == count
    if status == "acknowledged":
        assert all(alert["status"] == "open" and alert["acknowledged"] for alert in alerts)
    else:
        assert {alert["status"] for alert in alerts} == {status}


def test_a_page_of_alerts_is_bounded_by_default(service: ServiceClient, volume: Volume) -> None:
    page = service.read("/api/v1/integrations/payments/alerts", status="all")
    assert len(page["items"]) == 50
    assert page["nextCursor"] is not None
    too_many = service.http.get(
        "/api/v1/integrations/payments/alerts",
        params={"status": "all", "limit": 501},
        headers=admin_headers(),
    )
    assert too_many.status_code == 422
    assert "limit" in too_many.text


def test_a_forged_alert_cursor_is_refused_naming_it(service: ServiceClient, volume: Volume) -> None:
    response = service.http.get(
        "/api/v1/integrations/payments/alerts",
        params={"status": "all", "cursor": "bm90LW91cnM"},
        headers=admin_headers(),
    )
    assert response.status_code in (400, 422)
    assert "cursor" in response.text


def test_an_alerts_notifications_are_paged_and_its_channels_counted_in_full(
    service: ServiceClient, database_url: str, volume: Volume
) -> None:
    alert_id = volume.resolved_alert_ids[0]
    # Four more notifications told of it: five in all, the newest one dead.
    with psycopg.connect(dsn(database_url), autocommit=True) as connection:
        for number, status in enumerate(["sent", "sent", "retrying", "dead"]):
            connection.execute(
                "INSERT INTO notifications (id, integration_id, channel_name, channel_type,"
                " payload, status, attempts, next_attempt_at, last_error, created_at, updated_at)"
                " VALUES (%s, 'payments', 'ops-mail', 'email', '{}', %s, 1, now(), %s,"
                " now() + make_interval(secs => %s), now())",
                (f"extra-{number}", status, "refused" if status == "dead" else None, number),
            )
            connection.execute(
                "INSERT INTO notification_alerts VALUES (%s, %s, 'recurring', 'info', 0)",
                (f"extra-{number}", alert_id),
            )
    pages = walk(service, f"/api/v1/alerts/{alert_id}/notifications", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert pages[0][0]["id"] == "extra-3"
    view = service.read(f"/api/v1/alerts/{alert_id}/notifications", limit=1)
    (channel,) = view["channels"]
    assert channel["latestStatus"] == "dead"
    assert channel["latestError"] == "refused"
    assert channel["counts"] == {"sent": 3, "retrying": 1, "dead": 1}


def test_an_old_commit_is_found_by_its_sha_or_a_prefix_never_by_like(
    service: ServiceClient, volume: Volume
) -> None:
    path = "/api/v1/integrations/payments/matrix"
    old = report_sha(7)
    with statements(service) as seen:
        exact = service.read(path, commit=old)
        prefixed = service.read(path, commit=old[:10])
        upper_case = service.read(path, commit=old[:10].upper())
    assert exact["commit"]["commitSha"] == prefixed["commit"]["commitSha"] == old
    assert upper_case["commit"]["commitSha"] == old
    assert not exact["isHead"]
    lookups = [text for text in seen if "FROM reports" in text and "commit_sha" in text]
    assert lookups
    assert not any("LIKE" in text.upper() or " OR " in text.upper() for text in lookups)
    ranged = [text for text in lookups if "reports.commit_sha >=" in text]
    assert any("reports.commit_sha <" in text for text in ranged)


def test_an_exact_sha_is_one_statement_even_when_it_prefixes_another(
    service: ServiceClient,
) -> None:
    (key,) = service.put_integration("payments")
    short = sha("c0ffee")[:12]  # c0ffee000000
    service.submit_ok(key, spec_report(short, timestamp=1))
    service.submit_ok(key, spec_report(short + "ab", timestamp=2))
    path = "/api/v1/integrations/payments/matrix"
    with statements(service) as seen:
        assert service.read(path, commit=short)["commit"]["commitSha"] == short
    assert len([text for text in seen if "FROM reports" in text]) == 1
    ambiguous = service.http.get(path, params={"commit": short[:8]}, headers=admin_headers())
    assert ambiguous.status_code == 409
    # c0ffeef sorts after every c0ffee0...: in no prefix range of theirs.
    missing = service.http.get(path, params={"commit": "c0ffeef"}, headers=admin_headers())
    assert missing.status_code == 404


def test_integrations_are_paged_by_name(service: ServiceClient) -> None:
    for name in ["echo", "alpha", "delta", "charlie", "bravo"]:
        service.put_integration(name)
    pages = walk(service, "/api/v1/integrations", limit=2)
    assert [[item["integrationId"] for item in page] for page in pages] == [
        ["alpha", "bravo"],
        ["charlie", "delta"],
        ["echo"],
    ]
