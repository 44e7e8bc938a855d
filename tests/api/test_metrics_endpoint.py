"""``/metrics`` is cheap to scrape (no database query per scrape) and, with a
token configured, answers only the scraper that presents it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings

METRICS_TOKEN = "scrape-token-0123456789abcdef"


def test_scrapes_do_not_query_the_database_each_time(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"notify_sender": False}))) as http:
        statements: list[str] = []

        def count(*args: Any) -> None:
            # The outbox backlog (the checker's own rounds run meanwhile).
            if "FROM notifications" in args[2]:
                statements.append(args[2])

        event.listen(http.app.state.engine, "before_cursor_execute", count)  # type: ignore[attr-defined]
        try:
            for _ in range(20):
                response = http.get("/metrics")
                assert response.status_code == 200
                assert "clef_pro_notification_backlog" in response.text
        finally:
            event.remove(http.app.state.engine, "before_cursor_execute", count)  # type: ignore[attr-defined]
    # The backlog gauges are read once per refresh interval (15 s), not per scrape.
    assert 1 <= len(statements) <= 2, statements


def test_a_metrics_token_keeps_other_scrapers_out(settings: Settings, tmp_path: Path) -> None:
    token_file = tmp_path / "metrics-token"
    token_file.write_text(METRICS_TOKEN + "\n")
    configured = settings.model_copy(
        update={"notify_sender": False, "metrics_token_file": token_file, "auth_failure_burst": 3}
    )
    with TestClient(create_app(configured), client=("10.0.0.9", 50000)) as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        ok = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert ok.status_code == 200
        assert "clef_pro_reports_total" in ok.text
        # The admin token is not the metrics token.
        admin = http.get("/metrics", headers={"Authorization": f"Bearer {settings.admin_token}"})
        assert admin.status_code == 401
        held = http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert held.status_code == 429
        assert "retry-after" in held.headers


def test_without_a_metrics_token_metrics_stay_open(settings: Settings) -> None:
    configured = settings.model_copy(update={"notify_sender": False, "metrics_token": None})
    with TestClient(create_app(configured)) as http:
        assert http.get("/metrics").status_code == 200


def test_the_metrics_token_may_come_from_a_variable(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"notify_sender": False, "metrics_token": SecretStr(METRICS_TOKEN)}
    )
    with TestClient(create_app(configured)) as http:
        assert http.get("/metrics").status_code == 401
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        assert http.get("/metrics", headers=headers).status_code == 200
