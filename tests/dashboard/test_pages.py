"""What the pages show, over HTTP (the browser tests show it in chromium)."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.dashboard.conftest import csrf_of, sign_in
from tests.support.contract import sha
from tests.support.dashboard import HEAD_COMMIT, OLD_COMMIT, Seeded, head_report
from tests.support.service import ServiceClient


def text(response: object) -> str:
    """The page's text content, roughly: tags dropped, entities decoded."""
    body = re.sub(r"<[^>]+>", " ", response.text)  # type: ignore[attr-defined]
    return " ".join(html.unescape(body).split())


def test_the_overview_sorts_and_filters_on_the_server(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    by_health = text(http.get("/"))
    assert (
        by_health.index("Payments API") < by_health.index("Identity") < by_health.index("Billing")
    )
    by_name = text(http.get("/?sort=name"))
    assert by_name.index("Billing") < by_name.index("Identity") < by_name.index("Payments API")
    filtered = text(http.get("/?q=acme"))
    assert "Payments API" in filtered
    assert "Identity" not in filtered
    assert "1 of 3 integrations" in filtered
    nothing = text(http.get("/?q=nothing-like-this"))
    assert "No integration matches “nothing-like-this”" in nothing
    # Nonsense parameters are ignored, not errors.
    assert http.get("/?sort=%27;drop").status_code == 200


def test_with_no_integrations_the_overview_says_how_to_add_one(http: TestClient) -> None:
    sign_in(http)
    page = text(http.get("/"))
    assert "No integrations yet" in page
    assert "cloud.integrationId" in page


def test_the_integration_page_shows_the_head_or_the_chosen_commit(
    http: TestClient, seeded: Seeded
) -> None:
    sign_in(http)
    head = text(http.get("/integrations/payments"))
    assert "Latest Commit 4ead000" in head
    assert "Critical 2 keys missing, 3 recipients" in head
    assert "Drifted (warning) Development has an additional recipient" in head

    old = http.get(f"/integrations/payments?commit={OLD_COMMIT}")
    assert old.status_code == 200
    assert "Older report Commit 01d0000" in text(old)
    assert "Warning 3 keys, 1 recipient, rotated 20d ago" in text(old)
    # The chosen commit is the current entry of the history.
    assert f'aria-current="true" data-commit="{OLD_COMMIT}"' in old.text
    # A prefix of the sha is enough, as in git.
    assert "Older report" in text(http.get(f"/integrations/payments?commit={OLD_COMMIT[:8]}"))

    missing = http.get(f"/integrations/payments?commit={sha('bad')}")
    assert missing.status_code == 404
    assert "There is no report for commit" in text(missing)
    invalid = http.get("/integrations/payments?commit=not-a-sha")
    assert invalid.status_code == 404
    assert "not a commit sha" in text(invalid)
    assert http.get("/integrations/nope").status_code == 404


def test_history_pages_through_older_reports(http: TestClient, seeded: Seeded) -> None:
    client = ServiceClient(http)
    for index in range(20):
        body = head_report()
        body["commitSha"] = sha(f"c{index:02d}")
        body["commitTimestamp"] += (index + 1) * 1000
        client.submit_ok(seeded.api_key, body)
    sign_in(http)
    first = http.get("/integrations/payments")
    assert first.text.count('class="commit-line"') == 2 * 15
    older = re.search(r'href="([^"]*before=[^"]*)">Older reports', first.text)
    assert older is not None
    second = http.get(html.unescape(older.group(1)))
    assert second.status_code == 200
    assert second.text.count('class="commit-line"') == 2 * 7  # 22 reports in all
    assert OLD_COMMIT[:7] in text(second)
    # A cursor that is not one of ours is ignored.
    assert http.get("/integrations/payments?before=garbage").status_code == 200


def test_a_report_on_an_untracked_branch_is_history_not_the_matrix(http: TestClient) -> None:
    client = ServiceClient(http)
    (key,) = client.put_integration("docs", trackedBranches=["main"])
    body = head_report()
    body["branch"] = "feature/x"
    client.submit_ok(key, body)
    sign_in(http)
    page = text(http.get("/integrations/docs"))
    assert "No report on a tracked branch yet" in page
    assert HEAD_COMMIT[:7] in page


def test_the_cli_text_is_escaped(http: TestClient) -> None:
    client = ServiceClient(http)
    (key,) = client.put_integration("xss")
    body = head_report()
    body["summary"]["cells"][0]["description"] = '<img src=x onerror="alert(1)">'
    client.submit_ok(key, body)
    sign_in(http)
    page = http.get("/integrations/xss").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_alert_tabs_show_open_acknowledged_and_resolved(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    open_page = text(http.get("/integrations/payments/alerts"))
    assert "Open 2 Acknowledged 0 Resolved 1" in open_page
    assert "Missing encryption keys" in open_page
    assert "Key rotation max age" in open_page
    assert "Minimum recipients" not in open_page
    assert "Not fixed yet" in open_page

    resolved = text(http.get("/integrations/payments/alerts?status=resolved"))
    assert "Minimum recipients" in resolved
    assert f"Fixed by {HEAD_COMMIT[:7]}" in resolved
    assert "Acknowledge…" not in resolved

    assert "No acknowledged alerts" in text(
        http.get("/integrations/payments/alerts?status=acknowledged")
    )
    assert "Open 2" in text(http.get("/integrations/payments/alerts?status=whatever"))


def test_an_acknowledged_alert_stays_open_and_shows_who_and_when(
    http: TestClient, seeded: Seeded
) -> None:
    alert = seeded.alerts["rotation_max_age"]
    sign_in(http)
    url = f"/integrations/payments/alerts/{alert}/acknowledge"
    assert http.post(url, data={"csrf": csrf_of(http.get(url).text)}).status_code == 303

    acknowledged = text(http.get("/integrations/payments/alerts?status=acknowledged"))
    assert "Key rotation max age" in acknowledged
    assert "Acknowledged by admin" in acknowledged
    assert "Open 2 Acknowledged 1 Resolved 1" in acknowledged
    # Still open, still counted.
    assert "Key rotation max age" in text(http.get("/integrations/payments/alerts"))
    assert "1 warning" in text(http.get("/"))
    # The confirmation page of an acknowledged alert leads back to the list.
    again = http.get(url)
    assert again.status_code == 303
    # The JSON API lists them the same way.
    listed = ServiceClient(http).alerts("payments", "acknowledged")
    assert [a["id"] for a in listed] == [alert]


def test_an_acknowledgement_for_a_while_says_when_it_runs_out(
    http: TestClient, seeded: Seeded
) -> None:
    alert = seeded.alerts["rotation_max_age"]
    sign_in(http)
    url = f"/integrations/payments/alerts/{alert}/acknowledge"
    form = http.get(url).text
    assert 'name="acknowledge_for"' in form
    assert '<option value="4h">for 4 hours</option>' in form
    answer = http.post(url, data={"csrf": csrf_of(form), "acknowledge_for": "4h"})
    assert answer.status_code == 303
    (listed,) = ServiceClient(http).alerts("payments", "acknowledged")
    assert listed["acknowledgedUntil"] is not None
    assert "notifies again in 4 hours" in text(
        http.get("/integrations/payments/alerts?status=acknowledged")
    )
    refused = http.post(url, data={"csrf": csrf_of(form), "acknowledge_for": "soon"})
    assert refused.status_code == 400


def test_only_open_alerts_of_this_integration_can_be_acknowledged(
    http: TestClient, seeded: Seeded
) -> None:
    sign_in(http)
    token = csrf_of(http.get("/").text)
    resolved = seeded.alerts["min_recipients"]
    refused = http.post(
        f"/integrations/payments/alerts/{resolved}/acknowledge", data={"csrf": token}
    )
    assert refused.status_code == 409
    assert "resolved" in text(refused)
    # An alert id under another integration's URL is not found.
    other = http.post(
        f"/integrations/identity/alerts/{seeded.alerts['missing_keys']}/acknowledge",
        data={"csrf": token},
    )
    assert other.status_code == 404
    assert http.get(
        f"/integrations/identity/alerts/{seeded.alerts['missing_keys']}"
    ).status_code == (404)
    # A return address elsewhere is not followed.
    open_alert = seeded.alerts["missing_keys"]
    done = http.post(
        f"/integrations/payments/alerts/{open_alert}/acknowledge",
        data={"csrf": token, "return_to": "https://evil.example/"},
    )
    assert done.headers["location"] == f"/integrations/payments/alerts#alert-{open_alert}"


def test_the_alert_page_lists_its_notifications(http: TestClient, seeded: Seeded) -> None:
    sign_in(http)
    page = text(http.get(f"/integrations/payments/alerts/{seeded.alerts['missing_keys']}"))
    assert "Missing encryption keys" in page
    assert "No notification has told of this alert" in page
