"""The dashboard's pictures and details in a real browser: the trend and
sparklines (server-rendered SVG whose points link to their commits), the mean
time to resolve, neutral severities of passed rules, exact times for screen
readers, and the alert page with its own heading, breadcrumb and timeline."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in
from tests.support.browser import PHONE, SCREENSHOTS, screenshot
from tests.support.dashboard import HEAD_COMMIT, OLD_COMMIT, Seeded, seed
from tests.support.server import ServerProcess
from tests.support.service import ServiceClient


@pytest.fixture
def server(start_service: Callable[..., ServerProcess]) -> ServerProcess:
    return start_service()


@pytest.fixture
def seeded(server: ServerProcess) -> Iterator[Seeded]:
    with server.client() as http:
        yield seed(ServiceClient(http))


def test_the_integration_page_draws_its_trend_and_time_to_resolve(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    sign_in(page, server, "/integrations/payments")
    trend = page.locator("figure.trend")
    expect(trend.get_by_role("heading", name="Trend")).to_be_visible()
    points = trend.locator("svg a.point")
    expect(points).to_have_count(2)
    # Oldest on the left; each point says its numbers and links to its commit.
    expect(points.first).to_have_attribute("aria-label", re.compile(rf"^{OLD_COMMIT[:7]} on main"))
    expect(points.last).to_have_attribute(
        "aria-label", re.compile(r"open alerts: 1 critical, 1 warning, 0 info$")
    )
    expect(points.first).to_have_attribute("aria-label", re.compile(r"0 critical, 1 warning"))
    # The columns stack the open alerts by severity.
    expect(points.last.locator("rect.sev-critical")).to_have_count(1)
    expect(points.last.locator("rect.sev-warning")).to_have_count(1)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    trend.screenshot(path=str(SCREENSHOTS / "integration-trend.png"))
    points.first.click()
    expect(page).to_have_url(re.compile(rf"\?commit={OLD_COMMIT}$"))
    expect(page.locator(".commit-banner")).to_contain_text("Older report")

    page.goto(f"{server.url}/integrations/payments")
    mttr = page.locator("table.mttr")
    expect(mttr.locator('tr[data-rule="min_recipients"]')).to_contain_text("Minimum recipients")
    expect(mttr.locator('tr[data-rule="min_recipients"]')).to_contain_text(re.compile(r"minute"))

    # A passed rule's severity is shown, without alarm; a failed one's with it.
    rows = page.locator("table.policies tbody tr")
    passed = rows.filter(has=page.locator(".badge-healthy"))
    expect(passed.first.locator('td[data-label="Severity"] .badge')).to_have_class(
        re.compile("badge-neutral")
    )
    expect(passed.first.locator('td[data-label="Severity"]')).not_to_contain_text("✕")
    failed = rows.filter(has_text="Failed").first
    expect(failed.locator('td[data-label="Severity"] .badge')).not_to_have_class(
        re.compile("badge-neutral")
    )

    # History entries: the exact time on hover and, for screen readers, in text.
    entry = page.locator(".history ol.commits > li").first
    expect(entry.locator("time")).to_have_attribute("title", re.compile(r"UTC"))
    expect(entry.locator(".visually-hidden").first).to_have_text(
        re.compile(r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)")
    )
    expect(entry.locator("code")).to_have_attribute("title", HEAD_COMMIT)


def test_every_overview_row_has_a_sparkline_of_its_commits(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    sign_in(page, server, "/")
    row = page.locator("#integrations tbody tr", has_text="Payments API")
    dots = row.locator("svg.sparkline a")
    expect(dots).to_have_count(2)
    expect(dots.last).to_have_attribute("aria-label", re.compile(rf"^{HEAD_COMMIT[:7]}, "))
    expect(page.locator("#integrations tbody tr", has_text="Billing")).to_contain_text("None yet")
    screenshot(page, "overview-sparklines")
    dots.last.click()
    expect(page).to_have_url(re.compile(rf"/integrations/payments\?commit={HEAD_COMMIT}$"))


def test_the_alert_page_has_its_own_heading_breadcrumb_and_timeline(
    page: Page, server: ServerProcess, seeded: Seeded
) -> None:
    alert_id = seeded.alerts["missing_keys"]
    sign_in(page, server, f"/integrations/payments/alerts/{alert_id}")
    expect(page.get_by_role("heading", name="Missing encryption keys", level=1)).to_be_visible()
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(crumbs).to_have_text(
        re.compile(r"Integrations\s*/\s*Payments API\s*/\s*Alerts\s*/\s*Missing encryption keys")
    )
    expect(crumbs.get_by_role("link", name="Alerts")).to_have_attribute(
        "href", "/integrations/payments/alerts"
    )
    events = page.locator("ol.timeline > li.event")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("Opened by")
    expect(events.first).to_contain_text(HEAD_COMMIT[:7])
    screenshot(page, "alert-page", full_page=True)

    # Acknowledging adds itself to the timeline.
    page.get_by_role("link", name="Acknowledge…").click()
    page.get_by_role("dialog").get_by_role("button", name="Acknowledge").click()
    page.goto(f"{server.url}/integrations/payments/alerts/{alert_id}")
    expect(page.locator('ol.timeline > li[data-kind="acknowledged"]')).to_contain_text(
        "Acknowledged by admin"
    )

    # The resolved alert's timeline: opened by the old report, resolved by the HEAD.
    resolved = seeded.alerts["min_recipients"]
    page.goto(f"{server.url}/integrations/payments/alerts/{resolved}")
    kinds = page.locator("ol.timeline > li.event")
    expect(kinds).to_have_count(2)
    expect(kinds.first).to_have_attribute("data-kind", "resolved")
    expect(kinds.last).to_have_attribute("data-kind", "opened")


def test_the_pictures_fit_a_phone(
    new_page: Callable[..., Page], server: ServerProcess, seeded: Seeded
) -> None:
    page = new_page(PHONE)
    sign_in(page, server, "/integrations/payments")
    expect(page.locator("figure.trend svg")).to_be_visible()
    width: int = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.evaluate("window.innerWidth")
    screenshot(page, "phone-integration-trend", full_page=True)


def test_the_favicon_is_served(page: Page, server: ServerProcess) -> None:
    response = page.goto(f"{server.url}/favicon.ico")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
