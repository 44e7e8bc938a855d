"""The dashboard in a real browser, against a real server on Postgres filled
through the contract API."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import README_SCREENSHOT, sign_in
from tests.support.browser import PHONE, screenshot
from tests.support.contract import sha
from tests.support.dashboard import (
    EMAIL_CHANNEL,
    HEAD_CELLS,
    HEAD_COMMIT,
    OLD_CELLS,
    OLD_COMMIT,
    PIPELINE,
    Seeded,
    head_report,
    seed,
)
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient
from tests.support.smtp import SmtpServer

WORDS = {"healthy": "Healthy", "warning": "Warning", "critical": "Critical", "unknown": "Unknown"}


@pytest.fixture
def server(start_service: Callable[..., ServerProcess]) -> ServerProcess:
    return start_service()


@pytest.fixture
def seeded(server: ServerProcess) -> Iterator[Seeded]:
    with server.client() as http:
        yield seed(ServiceClient(http))


def expect_matrix(page: Page, cells: dict[tuple[str, str], tuple[str, str]]) -> None:
    for (namespace, environment), (health, description) in cells.items():
        located = page.locator(
            f'tr[data-namespace="{namespace}"] td[data-environment="{environment}"]'
        )
        # Health by word (and icon), never by colour alone; then the CLI's words.
        expect(located.locator(".badge")).to_have_text(re.compile(rf"{WORDS[health]}$"))
        expect(located.locator(".desc")).to_have_text(description)
        expect(located).to_have_attribute("data-health", health)


def test_a_signed_out_visitor_sees_nothing_but_the_sign_in_page(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    for path in (
        "/",
        "/integrations/payments",
        f"/integrations/payments?commit={OLD_COMMIT}",
        "/integrations/payments/alerts",
        f"/integrations/payments/alerts/{seeded.alerts['missing_keys']}",
    ):
        page.goto(f"{server.url}{path}")
        expect(page).to_have_url(re.compile(r"/sign-in\?next="))
        expect(page.get_by_role("heading", name="Sign in to Clef Pro")).to_be_visible()
        # Nothing of the integration shows (only the visitor's own URL is kept,
        # in the form, to return to after signing in).
        shown = page.inner_text("body")
        for secret in ("Payments API", "payments", "oauth", "missing_keys", HEAD_COMMIT[:7]):
            assert secret not in shown, (path, secret)
        assert "Payments API" not in page.content()
    screenshot(page, "sign-in")

    page.get_by_label("Admin token").fill("wrong-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not this service's admin token")
    assert "Payments API" not in page.content()


def test_integration_page_shows_the_matrix_drift_and_history(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    sign_in(page, server, "/integrations/payments")
    expect(page.get_by_role("heading", name="Payments API", level=1)).to_be_visible()

    # The matrix of the HEAD: statuses and the CLI's descriptions.
    expect(page.locator(".commit-banner")).to_contain_text("Latest")
    expect(page.locator(".commit-banner")).to_contain_text(HEAD_COMMIT[:7])
    expect_matrix(page, HEAD_CELLS)
    # Drift is shown on its namespace's row, with the CLI's summary.
    database = page.locator('tr[data-namespace="database"]')
    expect(database).to_have_class(re.compile("drifted"))
    expect(database.locator("td.drift")).to_contain_text("Drifted (warning)")
    expect(database.locator("td.drift")).to_contain_text("Development has an additional recipient")
    expect(page.locator('tr[data-namespace="oauth"] td.drift')).to_contain_text("No drift")
    # Policy results of the selected report, failures first.
    policies = page.locator("table.policies tbody tr")
    expect(policies).to_have_count(3)
    expect(policies.first).to_contain_text("Missing encryption keys")
    expect(policies.first).to_contain_text("Failed")
    # History: both commits, the HEAD marked, with CI pipeline links.
    history = page.locator(".history ol.commits > li")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("Latest")
    expect(history.first.get_by_role("link", name=re.compile("CI pipeline"))).to_have_attribute(
        "href", PIPELINE
    )
    page.wait_for_load_state("networkidle")
    screenshot(page, "integration-page", full_page=True)
    if os.environ.get("CLEF_PRO_UPDATE_SCREENSHOTS"):
        # The README's picture: one laptop screen of this page.
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(screenshot(page, "integration-page-readme"), README_SCREENSHOT)

    # Choosing an older commit switches the matrix, and the URL says so.
    page.locator(f'.history a[data-commit="{OLD_COMMIT}"]').click()
    expect(page).to_have_url(re.compile(rf"/integrations/payments\?commit={OLD_COMMIT}$"))
    expect(page.locator(".commit-banner")).to_contain_text("Older report")
    expect(page.locator(".commit-banner")).to_contain_text(OLD_COMMIT[:7])
    expect_matrix(page, OLD_CELLS)
    expect(page.locator("tr.drifted")).to_have_count(0)
    expect(page.locator(f'.history a[data-commit="{OLD_COMMIT}"]')).to_have_attribute(
        "aria-current", "true"
    )
    expect(page.locator("table.policies tbody tr")).to_have_count(1)
    expect(page.locator("table.policies")).to_contain_text("database / production")
    screenshot(page, "integration-page-older-commit", full_page=True)

    # The URL can be shared: opened afresh, it shows the same commit.
    shared = page.url
    page.goto(f"{server.url}/")
    page.goto(shared)
    expect_matrix(page, OLD_CELLS)
    # Back to the latest.
    page.get_by_role("link", name="Back to latest").click()
    expect(page).to_have_url(f"{server.url}/integrations/payments")
    expect_matrix(page, HEAD_CELLS)


def test_the_overview_shows_health_at_a_glance_sorted_and_filtered(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    sign_in(page, server, "/")
    rows = page.locator("#integrations tbody tr")
    expect(rows).to_have_count(3)
    # Worst health first by default; the integration without reports last.
    expect(rows.nth(0)).to_contain_text("Payments API")
    expect(rows.nth(0)).to_contain_text("Critical")
    expect(rows.nth(0)).to_contain_text("1 critical")
    expect(rows.nth(0)).to_contain_text("1 warning")
    expect(rows.nth(0)).to_contain_text("1 drifted")
    expect(rows.nth(0)).to_contain_text(HEAD_COMMIT[:7])
    expect(rows.nth(1)).to_contain_text("Identity")
    expect(rows.nth(1)).to_contain_text("Healthy")
    expect(rows.nth(2)).to_contain_text("Billing")
    expect(rows.nth(2)).to_contain_text("No reports yet")
    screenshot(page, "overview", full_page=True)

    # Sorting is a link (works without JavaScript) and the URL keeps it.
    page.get_by_role("link", name="Integration", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?sort=name"))
    expect(rows.nth(0)).to_contain_text("Billing")

    # The filter narrows the list as one types...
    page.get_by_label("Filter").fill("pay")
    expect(page.locator("#integrations tbody tr:visible")).to_have_count(1)
    expect(page.locator("[data-filter-count]")).to_contain_text("1 of 3")
    # ... and submitting it gives a URL that filters on the server.
    page.get_by_label("Filter").press("Enter")
    expect(page).to_have_url(re.compile(r"q=pay"))
    expect(page.locator("#integrations tbody tr")).to_have_count(1)

    # An integration without reports says how to send the first one.
    page.goto(f"{server.url}/integrations/billing")
    expect(page.get_by_role("heading", name="No reports yet")).to_be_visible()
    expect(page.locator(".empty")).to_contain_text("cloud.integrationId: billing")
    screenshot(page, "empty-integration")


def test_acknowledging_an_alert_changes_its_state_and_stops_its_emails(
    page: Page, start_service: Callable[..., ServerProcess]
) -> None:
    smtp = SmtpServer().start()
    try:
        server = start_service(
            **smtp.env(),
            CLEF_PRO_NOTIFY_POLL_SECONDS="0.1",
            CLEF_PRO_SMTP_FROM="Clef Pro <alerts@clef.example>",
        )
        with server.client() as http:
            client = ServiceClient(http)
            seeded = seed(client, channels=[EMAIL_CHANNEL])
            # The older report opened one alert, the HEAD two more: a mail each.
            mails = smtp.wait_for(2)
            assert "Missing encryption keys (missing_keys)" in mails[1].text
            wait_settled(client)

            sign_in(page, server, "/integrations/payments/alerts")
            alert_id = seeded.alerts["missing_keys"]
            card = page.locator(f"#alert-{alert_id}")
            expect(card).to_contain_text("Missing encryption keys")
            expect(card).to_contain_text("oauth / production")
            expect(card).to_contain_text(HEAD_COMMIT[:7])  # introduced by
            expect(card).to_contain_text("Not fixed yet")
            expect(card.locator(".channels")).to_contain_text("security")
            expect(card.locator(".channels")).to_contain_text("Sent")
            expect(page.locator(".subtabs")).to_contain_text("Acknowledged 0")

            # Acknowledge, with a confirmation first.
            card.get_by_role("link", name="Acknowledge…").click()
            dialog = page.locator(f"#ack-{alert_id}")
            expect(dialog).to_be_visible()
            expect(dialog).to_contain_text("stops notifications")
            screenshot(page, "acknowledge-dialog")
            dialog.get_by_role("button", name="Acknowledge").click()

            card = page.locator(f"#alert-{alert_id}")
            expect(card.locator(".acknowledged-by")).to_contain_text("by admin")
            expect(card).to_contain_text("Silenced")
            expect(card.locator(".alert-states")).to_contain_text("Open")
            expect(card.get_by_role("link", name="Acknowledge…")).to_have_count(0)
            expect(page.locator(".subtabs")).to_contain_text("Acknowledged 1")
            screenshot(page, "alerts-after-acknowledge", full_page=True)
            page.get_by_role("link", name=re.compile("^Acknowledged")).click()
            expect(page.locator(".alert-card")).to_have_count(1)
            expect(page.locator(f"#alert-{alert_id}")).to_be_visible()

            # The next report still fails the same way: the acknowledged alert
            # is not mailed again, the other open one still is.
            nxt = head_report()
            nxt["commitSha"] = sha("4e47")
            nxt["commitTimestamp"] += 60_000
            client.submit_ok(seeded.api_key, nxt)
            mails = smtp.wait_for(3)
            wait_settled(client)
            time.sleep(0.5)
            assert len(smtp.received) == 3
            latest = mails[2].text
            assert "rotation_max_age" in latest
            assert "missing_keys" not in latest
            assert "Missing encryption keys" not in latest
    finally:
        smtp.stop()


def wait_settled(client: ServiceClient, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        backlog = client.read("/api/v1/notifications/status")["backlog"]
        if backlog["pending"] == backlog["sending"] == backlog["retrying"] == 0:
            return
        assert time.monotonic() < deadline, f"the outbox did not settle: {backlog}"
        time.sleep(0.05)


def test_the_dashboard_works_without_javascript(
    new_page: Callable[..., Page], server: ServerProcess, seeded: Seeded
) -> None:
    page = new_page(javascript=False)
    sign_in(page, server, "/integrations/payments")
    expect_matrix(page, HEAD_CELLS)
    page.locator(f'.history a[data-commit="{OLD_COMMIT}"]').click()
    expect(page).to_have_url(re.compile(rf"\?commit={OLD_COMMIT}$"))
    expect_matrix(page, OLD_CELLS)

    # Acknowledging goes through a confirmation page instead of a dialog.
    page.goto(f"{server.url}/integrations/payments/alerts")
    alert_id = seeded.alerts["rotation_max_age"]
    page.locator(f"#alert-{alert_id}").get_by_role("link", name="Acknowledge…").click()
    expect(page).to_have_url(re.compile(rf"/alerts/{alert_id}/acknowledge"))
    expect(page.get_by_role("heading", name="Acknowledge this alert?")).to_be_visible()
    screenshot(page, "acknowledge-without-javascript")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(
        re.compile(rf"/integrations/payments/alerts\?status=open#alert-{alert_id}$")
    )
    expect(page.locator(f"#alert-{alert_id} .acknowledged-by")).to_contain_text("by admin")


def test_the_dashboard_reads_on_a_phone(
    new_page: Callable[..., Page], server: ServerProcess, seeded: Seeded
) -> None:
    page = new_page(PHONE)
    sign_in(page, server, "/")
    expect(page.locator("#integrations")).to_contain_text("Payments API")
    screenshot(page, "phone-overview", full_page=True)
    assert _fits(page), "the overview scrolls sideways on a phone"

    page.goto(f"{server.url}/integrations/payments")
    expect_matrix(page, HEAD_CELLS)
    # The page itself never scrolls sideways; only the matrix may, in its box.
    assert _fits(page), "the integration page scrolls sideways on a phone"
    expect(page.locator(".history")).to_be_visible()
    screenshot(page, "phone-integration", full_page=True)

    page.goto(f"{server.url}/integrations/payments/alerts")
    expect(page.locator(".alert-card")).to_have_count(2)
    assert _fits(page), "the alerts page scrolls sideways on a phone"
    screenshot(page, "phone-alerts", full_page=True)


def _fits(page: Page) -> bool:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    viewport: int = page.evaluate("window.innerWidth")
    return width <= viewport
