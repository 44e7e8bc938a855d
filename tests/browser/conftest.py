"""Fixtures of the browser tests: Debian's chromium driven by Playwright
(tests/support/browser.py), against real ``clef-pro serve`` processes over
the test Postgres."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

from tests.support.browser import launch_browser, new_context
from tests.support.contract import REPO_ROOT
from tests.support.server import ServerProcess
from tests.support.service import ADMIN_TOKEN

#: The README's picture of the integration page, refreshed on demand:
#: CLEF_PRO_UPDATE_SCREENSHOTS=1 pytest tests/browser -k integration_page
README_SCREENSHOT = REPO_ROOT / "docs" / "screenshots" / "integration.png"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            for marker in ("browser", "server", "postgres"):
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: while Playwright's sync driver runs, its
    # event loop is the thread's running loop, which other tests must not meet.
    with launch_browser() as launched:
        yield launched


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(viewport=LAPTOP, javascript=True)``: a page in a fresh
    context; all are closed after the test."""
    contexts: list[BrowserContext] = []

    def open_page(viewport: ViewportSize | None = None, *, javascript: bool = True) -> Page:
        context = new_context(browser, viewport, javascript=javascript)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


def sign_in(page: Page, server: ServerProcess, path: str = "/", token: str = ADMIN_TOKEN) -> None:
    """Sign in through the form, as a person would, landing on ``path``."""
    page.goto(f"{server.url}{path}")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}{path}")
