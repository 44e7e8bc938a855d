"""A database connection lost between reports fails one request, cleanly.

Why: the pool does not ping a connection before lending it (that would cost
every report a round trip), so the first report after PostgreSQL dropped the
pool's connections finds out by sending its statements. That report must get
a ``503`` the CLI can retry, store nothing, and the next one must find a
working connection.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from clef_pro_api.settings import Settings
from tests.support.contract import failing, sha, spec_report
from tests.support.postgres import PostgresServer
from tests.support.service import ServiceClient, key_headers


def test_a_report_on_a_dropped_connection_is_503_and_the_next_one_is_stored(
    service: ServiceClient, settings: Settings, postgres: PostgresServer
) -> None:
    (key,) = service.put_integration("acme")
    service.submit_ok(
        key, spec_report(sha("one"), timestamp=1_000, policy_results=[failing("a", "x/y")])
    )
    database = make_url(str(settings.database_url)).database
    assert database
    with postgres.connect(database) as admin:
        dropped = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert dropped is not None
    assert int(str(dropped[0])) >= 1

    second = spec_report(sha("two"), timestamp=2_000, policy_results=[failing("a", "x/y")])
    response = service.http.post("/api/v1/reports", json=second, headers=key_headers(key))
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]

    service.submit_ok(key, second)
    history = service.read("/api/v1/integrations/acme/reports")["items"]
    assert [item["commitSha"] for item in history] == [sha("two"), sha("one")]
