"""The alert lifecycle over HTTP on Postgres: the seed's example and the CLI's habits."""

from __future__ import annotations

from tests.support.contract import example, failing, passing, sha, spec_report
from tests.support.service import ServiceClient

OAUTH = "oauth/production"


def submit(
    service: ServiceClient,
    key: str,
    label: str,
    ts: int,
    results: list[dict[str, object]],
    **kw: object,
) -> None:
    service.submit_ok(key, spec_report(sha(label), timestamp=ts, policy_results=results, **kw))  # type: ignore[arg-type]


def test_seed_lifecycle_example_over_http(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    fail = [failing("missing_keys", OAUTH)]

    submit(service, key, "abc", 1, fail)
    (alert,) = service.alerts("acme")
    assert alert["status"] == "open"
    assert not alert["acknowledged"]
    assert alert["introducedByCommit"] == sha("abc")
    assert alert["scope"] == OAUTH

    submit(service, key, "def", 2, fail)
    (same,) = service.alerts("acme")
    assert same["id"] == alert["id"]
    assert same["lastSeenCommit"] == sha("def")
    assert same["introducedByCommit"] == sha("abc")

    acknowledged = service.acknowledge(alert["id"])
    assert acknowledged["status"] == "open"
    assert acknowledged["acknowledged"]
    assert acknowledged["acknowledgedBy"] == "admin"
    assert acknowledged["acknowledgedAt"] is not None
    assert service.alerts("acme", "open") == [acknowledged]

    submit(service, key, "ghi", 3, fail)
    (still,) = service.alerts("acme")
    assert (still["status"], still["acknowledged"]) == ("open", True)

    submit(service, key, "jkl", 4, [passing("missing_keys", OAUTH)])
    (resolved,) = service.alerts("acme")
    assert resolved["status"] == "resolved"
    assert resolved["resolvedByCommit"] == sha("jkl")
    assert service.alerts("acme", "open") == []

    submit(service, key, "mno", 5, fail)
    fresh = service.alerts("acme", "open")
    assert len(fresh) == 1
    assert fresh[0]["id"] != alert["id"]
    assert fresh[0]["introducedByCommit"] == sha("mno")
    assert not fresh[0]["acknowledged"]
    assert len(service.alerts("acme", "resolved")) == 1


def test_acknowledging_twice_keeps_the_first_acknowledgement(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    submit(service, key, "abc", 1, [failing("missing_keys", OAUTH)])
    (alert,) = service.alerts("acme")
    first = service.acknowledge(alert["id"])
    assert service.acknowledge(alert["id"]) == first


def test_a_resolved_alert_cannot_be_acknowledged(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    submit(service, key, "abc", 1, [failing("missing_keys", OAUTH)])
    submit(service, key, "def", 2, [])
    (alert,) = service.alerts("acme")
    response = service.http.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        headers={"Authorization": "Bearer test-admin-token-0123456789abcdef"},
    )
    assert response.status_code == 409


def test_cli_form_fixed_issue_disappears_and_its_alert_resolves(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    first = example("report-cli.json")
    service.submit_ok(key, first)
    (alert,) = service.alerts("acme")
    assert (alert["ruleId"], alert["scope"], alert["severity"]) == (
        "schema/error",
        "database/dev",
        "critical",
    )

    fixed = example("report-cli.json")
    fixed["commitSha"] = sha("fixed")
    fixed["commitTimestamp"] += 1000
    fixed["policyResults"] = [r for r in fixed["policyResults"] if r["ruleId"] != "schema/error"]
    service.submit_ok(key, fixed)
    (resolved,) = service.alerts("acme")
    assert resolved["status"] == "resolved"
    assert resolved["resolvedByCommit"] == sha("fixed")


def test_cli_report_covering_other_namespaces_resolves_nothing(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    service.submit_ok(key, example("report-cli.json"))

    filtered = example("report-cli.json")
    filtered["commitSha"] = sha("filtered")
    filtered["commitTimestamp"] += 1000
    filtered["summary"]["namespaces"] = ["auth"]
    filtered["summary"]["cells"] = [
        c for c in filtered["summary"]["cells"] if c["namespace"] == "auth"
    ]
    filtered["drift"] = [d for d in filtered["drift"] if d["namespace"] == "auth"]
    filtered["policyResults"] = []
    service.submit_ok(key, filtered)
    (alert,) = service.alerts("acme")
    assert alert["status"] == "open"


def test_an_older_report_is_history_and_changes_no_alert(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    submit(service, key, "new", 200, [failing("missing_keys", OAUTH)])
    submit(service, key, "old", 100, [passing("missing_keys", OAUTH)])
    (alert,) = service.alerts("acme")
    assert alert["status"] == "open"
    assert service.read("/api/v1/integrations/acme/matrix")["commit"]["commitSha"] == sha("new")
    history = service.read("/api/v1/integrations/acme/reports")["items"]
    assert [item["commitSha"] for item in history] == [sha("new"), sha("old")]


def test_an_untracked_branch_report_is_history_and_changes_no_alert(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme", trackedBranches=["main"])
    submit(service, key, "main1", 1, [failing("missing_keys", OAUTH)])
    submit(service, key, "feat", 2, [], branch="feature/x")
    (alert,) = service.alerts("acme")
    assert alert["status"] == "open"
    matrix = service.read("/api/v1/integrations/acme/matrix")
    assert matrix["commit"]["commitSha"] == sha("main1")


def test_a_batch_applies_alerts_from_its_last_report_only(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    reports = [
        spec_report(sha("b1"), timestamp=1, policy_results=[failing("rule_a", OAUTH)]),
        spec_report(sha("b2"), timestamp=2, policy_results=[failing("rule_b", OAUTH)]),
        spec_report(sha("b3"), timestamp=3, policy_results=[failing("rule_c", OAUTH)]),
    ]
    assert service.batch(key, reports).status_code == 200
    assert [a["ruleId"] for a in service.alerts("acme")] == ["rule_c"]
    assert service.read("/api/v1/integrations/acme/matrix")["commit"]["commitSha"] == sha("b3")


def test_resubmitting_the_head_with_a_fix_resolves_its_alert(service: ServiceClient) -> None:
    (key,) = service.put_integration("acme")
    submit(service, key, "abc", 1, [failing("missing_keys", OAUTH)])
    submit(service, key, "abc", 1, [passing("missing_keys", OAUTH)])
    (alert,) = service.alerts("acme")
    assert alert["status"] == "resolved"
