"""The API docs page in Chromium with every request off this machine refused: it renders from the
server's own files, and its Content-Security-Policy blocks nothing it needs (a CSP violation is a
console error, which fails the test)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.fixtures.server import LiveServer
from tests.portal.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_api_docs_render_offline_under_their_csp(
    live_server: LiveServer, open_tab: Callable[[], Page]
) -> None:
    page = open_tab()
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(live_server.api + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Community signage content server")
    expect(page.locator(".opblock-tag-section").first).to_be_visible()
    page.locator(".opblock-summary").first.click()  # an operation opens (Swagger UI's scripts run)
    expect(page.locator(".opblock-body").first).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "api-docs.png"))
    assert outside == []


def test_the_docs_csp_refuses_an_injected_inline_script(live_server: LiveServer, chromium: Browser) -> None:
    """The policy is enforced, not decorative: a script injected into the page does not run (its
    refusal is the console error the other test would fail on, so this tab is not watched)."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(live_server.api + "/docs")
        page.evaluate("""() => { const s = document.createElement('script');
            s.textContent = 'window.__ran = true'; document.body.appendChild(s); }""")
        assert page.evaluate("() => window.__ran === true") is False
    finally:
        context.close()
