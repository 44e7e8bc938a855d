"""A batch's history is stored as the same reports one by one store them, on
PostgreSQL and on the embedded SQLite alike.

Why: a history report's body travels as its canonical JSON text, stored as it
is and digested as it is (no second serialisation), where a single report's
body goes through the JSON column type; both must leave the same body and
digest, so a single sent again after a backfill is a replay.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select

from clef_pro_api.app import create_app
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from clef_pro_api.storage.migrate import upgrade
from tests.support.contract import spec_report
from tests.support.service import ADMIN_TOKEN, ServiceClient


@pytest.fixture(params=["sqlite", "postgres"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServiceClient, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("database_url")
    settings = Settings(
        database_url=url, admin_token=ADMIN_TOKEN, data_dir=tmp_path, auto_migrate=False
    )
    with TestClient(create_app(settings)) as http:
        yield ServiceClient(http), settings.resolved_database_url


def stored(url: str, integration_id: str) -> dict[str, tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                models.Report.commit_sha,
                models.Report.branch,
                models.Report.commit_timestamp,
                models.Report.passed,
                models.Report.violations,
                models.Report.digest,
                models.Report.body,
            ).where(models.Report.integration_id == integration_id)
        ).all()
    engine.dispose()
    return {row[0]: tuple(row[1:]) for row in rows}


@pytest.mark.parametrize("collect_ci_context", [False, True], ids=["plain", "ciContext kept"])
def test_a_batch_history_stores_the_body_and_digest_of_the_same_reports_one_by_one(
    both: tuple[ServiceClient, str], collect_ci_context: bool
) -> None:
    service, url = both
    collection = {"ciContext": collect_ci_context}
    (batched,) = service.put_integration("batched", collection=collection)
    (single,) = service.put_integration("single", collection=collection)
    batch = [spec_report(f"{index:040x}", timestamp=index) for index in range(1, 21)]
    batch[3].pop("ciContext", None)  # one without, among ones with
    response = service.batch(batched, batch)
    assert response.status_code == 200, response.text

    for report in batch:
        service.submit_ok(single, report)
    taken, one_by_one = stored(url, "batched"), stored(url, "single")
    assert len(taken) == len(batch)
    assert taken == one_by_one
    kept = [body for *_columns, body in taken.values() if "ciContext" in body]
    assert len(kept) == (len(batch) - 1 if collect_ci_context else 0)

    again = service.submit_ok(batched, batch[5])
    assert again["id"] == response.json()["reportIds"][5]
