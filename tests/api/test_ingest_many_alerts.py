"""A report that touches more alerts than one multi-row statement holds.

Why: ingestion writes a report's alerts, events and messages as multi-row
statements of at most ``ROWS_PER_STATEMENT`` rows each; a report past that
takes several, and must mean the same on PostgreSQL and the embedded SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clef_pro_api.app import create_app
from clef_pro_api.services.ingest import ROWS_PER_STATEMENT
from clef_pro_api.settings import Settings
from clef_pro_api.storage.migrate import upgrade
from tests.support.contract import failing, passing, sha, spec_report
from tests.support.service import ADMIN_TOKEN, ServiceClient

EMAIL = {"name": "security", "type": "email", "to": ["security@acme.example"]}


@pytest.fixture(params=["sqlite", "postgres"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceClient]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("database_url")
    settings = Settings(
        database_url=url, admin_token=ADMIN_TOKEN, data_dir=tmp_path, auto_migrate=False
    )
    with TestClient(create_app(settings)) as http:
        yield ServiceClient(http)


def test_alerts_beyond_one_statement_open_recur_and_resolve_alike_on_both_databases(
    both: ServiceClient,
) -> None:
    count = ROWS_PER_STATEMENT * 2 + 3
    scopes = [f"svc/{index:03d}" for index in range(count)]
    (key,) = both.put_integration("acme", channels=[EMAIL])

    def submit(label: str, ts: int, failing_until: int) -> None:
        results = [
            failing("missing_keys", scope)
            if index < failing_until
            else passing("missing_keys", scope)
            for index, scope in enumerate(scopes)
        ]
        both.submit_ok(key, spec_report(sha(label), timestamp=ts, policy_results=results))

    submit("opens", 1_000, count)
    opened = both.alerts("acme")
    assert len(opened) == count
    assert {alert["status"] for alert in opened} == {"open"}

    submit("recurs", 2_000, count)
    submit("resolves", 3_000, 5)
    alerts = {alert["scope"]: alert for alert in both.alerts("acme")}
    assert len(alerts) == count
    for index, scope in enumerate(scopes):
        alert = alerts[scope]
        if index < 5:
            assert alert["status"] == "open", scope
        else:
            assert alert["status"] == "resolved", scope
