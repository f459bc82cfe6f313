"""The API docs in a real browser with no way out: every request the page makes goes to Kairos
itself, and Swagger UI and ReDoc still render the Kairos operations."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, Route, expect

from tests.browser.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_render_without_leaving_the_machine(
    browser: Browser, kairos_server: Server, screenshots: Path, path: str
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    requested: list[str] = []
    outside: list[str] = []

    def guard(route: Route, request: Request) -> None:
        requested.append(request.url)
        if request.url.startswith(("data:", "blob:", f"{kairos_server.url}/")):
            route.continue_()
        else:  # would leave the machine: refused, and the test fails below
            outside.append(request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    try:
        page.goto(f"{kairos_server.url}{path}")
        if path == "/docs":
            events = page.locator('.opblock-summary-path[data-path="/v1/events"]')
            expect(events.first).to_be_visible(timeout=20_000)
            expect(page.locator(".info .title")).to_contain_text("Kairos")
            assert page.locator(".opblock").count() > 20
        else:
            expect(page.locator("h1").first).to_contain_text("Kairos", timeout=20_000)
            expect(page.get_by_text("/v1/events").first).to_be_attached()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / f"docs-offline{path.replace('/', '-')}.png"))
    finally:
        context.close()
    assert outside == []
    assert any(url.endswith("/openapi.json") for url in requested)
    assert any("/static/vendor/" in url for url in requested)
