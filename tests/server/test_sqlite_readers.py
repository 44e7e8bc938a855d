"""On SQLite a slow page never holds up, or fails, another integration's report.

Every SQLite transaction used to start with ``BEGIN IMMEDIATE``, reads
included, so one slow page held the write lock: every report waited behind it
and, past the busy timeout, failed with "database is locked". Reads now
begin deferred and read a WAL snapshot beside the writers.

The slow reader here is a real ``GET`` through the service's own request
session, held open mid-transaction, while reports of other integrations are
submitted concurrently through the API.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from clef_pro_api.app import create_app
from clef_pro_api.deps import SessionDep
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from clef_pro_api.storage.migrate import upgrade
from tests.support.contract import spec_report
from tests.support.service import ADMIN_TOKEN, ServiceClient

WRITERS = 6
#: Far below the 30 s busy timeout: a writer queued behind the reader would
#: only fail after that, so waiting it out would make this test slow, not surer.
WRITERS_FINISH_WITHIN = 15.0


def test_reports_are_stored_while_a_slow_page_is_still_reading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clef-pro.db'}"
    upgrade(url)
    app = create_app(
        Settings(database_url=url, admin_token=ADMIN_TOKEN, data_dir=tmp_path, auto_migrate=False)
    )
    reading = threading.Event()
    release = threading.Event()

    @app.get("/slow-page-for-this-test")
    def slow_page(session: SessionDep) -> dict[str, Any]:
        # The transaction is open once this has read; it stays open until released.
        seen = session.scalar(select(func.count()).select_from(models.Report))
        reading.set()
        release.wait(timeout=60)
        return {"reports": seen}

    with TestClient(app) as http, ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        service = ServiceClient(http)
        keys = [service.put_integration(f"team-{index}")[0] for index in range(WRITERS)]
        page = pool.submit(http.get, "/slow-page-for-this-test")
        assert reading.wait(timeout=30), "the slow page never started reading"
        try:
            submitted = [
                pool.submit(
                    service.submit,
                    key,
                    spec_report(f"{index + 1:040x}", timestamp=1_700_000_000_000),
                )
                for index, key in enumerate(keys)
            ]
            done, pending = wait(submitted, timeout=WRITERS_FINISH_WITHIN)
            still_reading = not release.is_set() and not page.done()
        finally:
            release.set()
        assert not pending, f"{len(pending)} reports waited behind a page that only reads"
        assert still_reading
        statuses = [future.result().status_code for future in done]
        assert statuses == [200] * WRITERS, [future.result().text for future in done]
        assert page.result(timeout=30).json() == {"reports": 0}
        for index in range(WRITERS):
            assert service.read(f"/api/v1/integrations/team-{index}/matrix")["commit"]
