"""The API documentation pages in a real browser that can reach nothing but
this machine: ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) must render from
what the service itself serves."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect

from tests.support.browser import screenshot
from tests.support.server import ServerProcess


def _loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def offline_page(new_page: Callable[..., Page]) -> tuple[Page, list[str], list[str]]:
    """A page whose every request off this machine is refused (and recorded),
    and whose Content-Security-Policy complaints are recorded too."""
    page = new_page()
    elsewhere: list[str] = []
    refused_by_policy: list[str] = []

    def guard(route: Route) -> None:
        if _loopback(route.request.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort("internetdisconnected")

    def on_console(message: ConsoleMessage) -> None:
        # An image from elsewhere (ReDoc's attribution logo) is refused by the
        # policy before any request is made: that is the policy working.
        # Anything else refused would be a viewer part the page lacks.
        if "Content Security Policy" in message.text and not message.text.startswith(
            "Loading the image 'https://"
        ):
            refused_by_policy.append(message.text)

    page.context.route("**/*", guard)
    page.on("console", on_console)
    return page, elsewhere, refused_by_policy


@pytest.fixture
def server(start_service: Callable[..., ServerProcess]) -> ServerProcess:
    return start_service()


def test_swagger_ui_renders_the_operations_with_no_network(
    offline_page: tuple[Page, list[str], list[str]], server: ServerProcess
) -> None:
    page, elsewhere, refused = offline_page
    response = page.goto(f"{server.url}/docs")
    assert response is not None
    assert response.status == 200
    # The operations list, rendered from the service's own OpenAPI document.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Clef Pro", timeout=30_000)
    operation = page.locator(".opblock-post", has_text="/api/v1/reports").first
    expect(operation).to_be_visible()
    expect(page.locator(".opblock")).not_to_have_count(0)
    operation.locator(".opblock-summary").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs-swagger-ui")
    assert elsewhere == []
    assert refused == []


def test_redoc_renders_the_reference_with_no_network(
    offline_page: tuple[Page, list[str], list[str]], server: ServerProcess
) -> None:
    page, elsewhere, refused = offline_page
    response = page.goto(f"{server.url}/redoc")
    assert response is not None
    assert response.status == 200
    # ReDoc parses the whole document before it shows anything: give it time.
    expect(page.get_by_role("heading", name="Clef Pro", level=1)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("menuitem", name="reports (CLI contract)")).to_be_visible()
    expect(page.get_by_role("heading", name="Submit Report")).to_be_attached()
    page.wait_for_load_state("networkidle")
    screenshot(page, "api-docs-redoc")
    assert elsewhere == []
    assert refused == []


def test_the_docs_assets_come_from_the_service(server: ServerProcess) -> None:
    with server.client() as http:
        for page in ("/docs", "/redoc"):
            html = http.get(page)
            assert html.status_code == 200
            policy = html.headers["content-security-policy"]
            assert "script-src 'self';" in policy
            assert "http" not in html.text.replace(server.url, "").split("<body>")[0]
        favicon = http.get("/favicon.ico")
        assert favicon.status_code == 200
        assert favicon.headers["content-type"].startswith("image/svg+xml")
        assert http.get("/docs/assets/not-an-asset.js").status_code == 404
