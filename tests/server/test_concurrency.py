"""Concurrent submissions through real server processes on one Postgres."""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.contract import failing, passing, spec_report
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient

pytestmark = [pytest.mark.postgres, pytest.mark.server]

SCOPES = ["oauth/production", "api-keys/production", "database/development"]


def test_twenty_concurrent_submissions_leave_consistent_alerts(
    start_service: Callable[..., ServerProcess],
) -> None:
    servers = [start_service(), start_service()]
    clients = [ServiceClient(server.client()) for server in servers]
    (key,) = clients[0].put_integration("busy")

    rng = random.Random(20)
    reports = []
    for index in range(20):
        results = [
            (failing if rng.random() < 0.6 else passing)("missing_keys", scope) for scope in SCOPES
        ]
        reports.append(
            spec_report(f"{index + 1:040x}", timestamp=1000 + index, policy_results=results)
        )
    order = list(range(20))
    rng.shuffle(order)

    def submit(index: int) -> int:
        status: int = clients[index % 2].submit(key, reports[index]).status_code
        return status

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(submit, order))
    assert statuses == [200] * 20

    alerts = clients[0].alerts("busy", "all")
    open_alerts = [a for a in alerts if a["status"] == "open"]
    # One open alert per identity, and exactly those the HEAD (newest commit) fails.
    assert len({a["scope"] for a in open_alerts}) == len(open_alerts)
    head = reports[-1]
    failing_at_head = {r["scope"] for r in head["policyResults"] if not r["passed"]}
    assert {a["scope"] for a in open_alerts} == failing_at_head
    for alert in open_alerts:
        assert alert["lastSeenCommit"] == head["commitSha"]
    for alert in alerts:
        if alert["status"] == "resolved":
            assert alert["resolvedByCommit"] is not None
    matrix = clients[0].read("/api/v1/integrations/busy/matrix")
    assert matrix["commit"]["commitSha"] == head["commitSha"]
    for client in clients:
        client.http.close()
