"""Pages over long histories: an alert's timeline is paged, and the pictures
and pages cost the same number of statements at any history size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.dashboard.conftest import csrf_of, sign_in
from tests.dashboard.test_pages import text
from tests.support.contract import sha
from tests.support.dashboard import HEAD_TIME, Seeded, head_report
from tests.support.service import ServiceClient


def more_reports(http: TestClient, seeded: Seeded, count: int, start: int = 0) -> None:
    """``count`` newer commits, each still failing like the HEAD."""
    client = ServiceClient(http)
    for n in range(start, start + count):
        body = head_report()
        body["commitSha"] = sha(f"5{n:03d}")
        body["commitTimestamp"] = HEAD_TIME + (n + 1) * 60_000
        client.submit_ok(seeded.api_key, body)


@contextmanager
def counted(http: TestClient) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = http.app.state.engine  # type: ignore[attr-defined]

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_an_alerts_timeline_is_paged_newest_first(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    alert = seeded.alerts["missing_keys"]
    more_reports(http, seeded, 10)
    page = http.get(f"/integrations/payments/alerts/{alert}")
    token = csrf_of(page.text)
    acknowledged = http.post(
        f"/integrations/payments/alerts/{alert}/acknowledge", data={"csrf": token}
    )
    assert acknowledged.status_code == 303
    more_reports(http, seeded, 20, start=10)

    first = http.get(f"/integrations/payments/alerts/{alert}")
    assert first.status_code == 200
    # A page is 25 reports' events; the acknowledgement sits among them in time.
    assert first.text.count('class="event event-') - first.text.count("event-acknowledged") == 25
    assert "Older events" in first.text
    shown = text(first)
    assert shown.index(sha("5029")[:7]) < shown.index(sha("5020")[:7])
    cursor = first.text.split("?before=", 1)[1].split('"', 1)[0]

    second = http.get(f"/integrations/payments/alerts/{alert}?before={cursor}")
    assert second.status_code == 200
    # 31 reports opened and repeated it, plus the acknowledgement: 32 entries.
    assert first.text.count('class="event event-') + second.text.count('class="event event-') == 32
    assert "Older events" not in second.text
    assert "Newest events" in second.text
    assert 'data-kind="opened"' in second.text
    both = first.text + second.text
    assert both.count('data-kind="acknowledged"') == 1
    assert "Acknowledged by admin" in text(first) + text(second)

    # A cursor this page never gave out is the first page, not an error.
    assert http.get(f"/integrations/payments/alerts/{alert}?before=nonsense").status_code == 200


def test_pages_cost_the_same_statements_at_any_history_size(
    http: TestClient, seeded: Seeded
) -> None:
    sign_in(http)
    alert = seeded.alerts["missing_keys"]
    pages = [
        "/",
        "/integrations/payments",
        f"/integrations/payments/alerts/{alert}",
        "/integrations/payments/alerts",
        "/integrations/payments/alerts?status=resolved",
    ]

    def statements() -> list[int]:
        counts = []
        for page in pages:
            with counted(http) as seen:
                assert http.get(page).status_code == 200
            counts.append(len(seen))
        return counts

    short = statements()
    more_reports(http, seeded, 40)
    assert statements() == short
