"""The read API the dashboard uses: summaries, matrix at a commit, paged history."""

from __future__ import annotations

from tests.support.contract import example, failing, sha, spec_report
from tests.support.service import ServiceClient


def test_integration_list_summarises_health(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.put_integration("empty")
    service.submit_ok(key, example("report-spec.json"))
    items = {item["integrationId"]: item for item in service.read("/api/v1/integrations")["items"]}
    payments = items["payments"]
    assert payments["head"]["commitSha"] == example("report-spec.json")["commitSha"]
    assert payments["openAlerts"] == {"info": 0, "warning": 1, "critical": 1}
    assert payments["worstStatus"] == "critical"
    assert payments["driftedNamespaces"] == ["database"]
    assert payments["passed"] is False
    assert items["empty"]["head"] is None
    assert items["empty"]["openAlerts"] == {"info": 0, "warning": 0, "critical": 0}


def test_matrix_follows_the_head_and_can_show_an_older_commit(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    older = spec_report(sha("a1"), timestamp=1)
    newer = spec_report(sha("b2"), timestamp=2)
    newer["summary"]["cells"][1]["healthStatus"] = "healthy"
    newer["summary"]["cells"][1]["description"] = "4 keys, 3 recipients"
    service.submit_ok(key, older)
    service.submit_ok(key, newer)

    head = service.read("/api/v1/integrations/payments/matrix")
    assert head["isHead"]
    assert head["commit"]["commitSha"] == sha("b2")
    assert head["cells"][1] == {
        "namespace": "oauth",
        "environment": "production",
        "healthStatus": "healthy",
        "description": "4 keys, 3 recipients",
    }
    assert head["namespaces"] == ["oauth", "api-keys", "database"]
    assert [d["isDrifted"] for d in head["drift"]] == [False, False, True]

    past = service.read("/api/v1/integrations/payments/matrix", commit=sha("a1")[:8])
    assert not past["isHead"]
    assert past["cells"][1]["healthStatus"] == "critical"


def test_matrix_of_an_unknown_commit_is_404(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(key, example("report-spec.json"))
    response = service.http.get(
        "/api/v1/integrations/payments/matrix",
        params={"commit": "ffffffff"},
        headers={"Authorization": "Bearer test-admin-token-0123456789abcdef"},
    )
    assert response.status_code == 404


def test_history_is_newest_first_and_keyset_paged(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    reports = [spec_report(f"{index:040x}", timestamp=1000 + index) for index in range(7)]
    assert service.batch(key, reports).status_code == 200
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = service.read("/api/v1/integrations/payments/reports", **params)
        seen += [item["commitSha"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [f"{index:040x}" for index in reversed(range(7))]


def test_a_forged_cursor_is_refused_naming_it(service: ServiceClient) -> None:
    service.put_integration("payments")
    response = service.http.get(
        "/api/v1/integrations/payments/reports",
        params={"cursor": "not-a-cursor"},
        headers={"Authorization": "Bearer test-admin-token-0123456789abcdef"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "cursor"


def test_alerts_can_be_filtered_by_status(service: ServiceClient) -> None:
    (key,) = service.put_integration("payments")
    service.submit_ok(
        key,
        spec_report(
            sha("a"),
            timestamp=1,
            policy_results=[
                failing("r1", "oauth/production"),
                failing("r2", "database/production"),
            ],
        ),
    )
    service.submit_ok(
        key, spec_report(sha("b"), timestamp=2, policy_results=[failing("r1", "oauth/production")])
    )
    assert [a["ruleId"] for a in service.alerts("payments", "open")] == ["r1"]
    assert [a["ruleId"] for a in service.alerts("payments", "resolved")] == ["r2"]
    assert len(service.alerts("payments", "all")) == 2
