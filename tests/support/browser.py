"""Debian's chromium driven by Playwright, for the browser tests.

Playwright is only the driver: the browser is the distribution's ``chromium``
package (``CLEF_PRO_CHROMIUM`` overrides the path); no browser build is ever
downloaded (never run ``playwright install``). Screenshots are test
artifacts, under ``test-artifacts/screenshots/`` (not committed).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from tests.support.contract import REPO_ROOT

CHROMIUM = os.environ.get("CLEF_PRO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
LAPTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def launch_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"no chromium at {CHROMIUM}: install Debian's package (apt-get install chromium; "
            "hack/test.sh does) or set CLEF_PRO_CHROMIUM"
        )
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(
    browser: Browser, viewport: ViewportSize | None = None, *, javascript: bool = True
) -> BrowserContext:
    """A fresh context (its own cookies), in UTC and British English so pages
    render the same everywhere."""
    context = browser.new_context(
        viewport=viewport or LAPTOP,
        java_script_enabled=javascript,
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(15_000)
    return context


def screenshot(page: Page, name: str, **options: Any) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **options)
    return path
