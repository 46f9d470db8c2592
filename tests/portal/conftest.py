"""Helpers for portal tests: read the CSRF token off a page, log in through the real form."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Response,
    expect,
    sync_playwright,
)

from content_server.portal.i18n import TEXTS
from tests.fixtures.server import Credentials, LiveServer, PairedDevice, free_port

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = TOKEN.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def portal_login(client: Any, creds: Credentials) -> httpx.Response:
    """Log in through the portal's form like a browser does; returns the final response."""
    page = client.get("/portal/login")
    return client.post(
        "/portal/login",
        data={"username": creds.username, "password": creds.password, "csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )


# ---- a real browser: Debian's Chromium driven by Playwright -------------------------------------

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One headless Chromium (Debian's, from the PATH) for the session; never downloads a browser."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed (apt-get install chromium)")
    # an assertion waits for the page up to 20 s (Playwright's 5 s is a quiet machine's: a page
    # beside four other suites took longer), a ceiling for waiting, not a speed bar
    expect.set_options(timeout=20_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_tab(chromium: Browser) -> Iterator[Callable[[], Page]]:
    """Opens fresh desktop-sized tabs, each with its own cookies (one per user). A script error,
    a console error or a page resource (style, script, image) that fails to load fails the test;
    refusals the page itself expects (a 403 page, a refused upload) do not."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_one() -> Page:
        context = chromium.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: _console(msg, errors))
        page.on("response", lambda r: _resource(r, errors))
        page.on("dialog", lambda d: _dialog(d, errors))  # e.g. an injected alert(1) that ran
        return page

    yield open_one
    for context in contexts:
        context.close()
    assert errors == [], f"browser errors: {errors}"


def _console(msg: ConsoleMessage, errors: list[str]) -> None:
    if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
        errors.append(msg.text)


def _dialog(dialog: Dialog, errors: list[str]) -> None:
    errors.append(f"unexpected dialog: {dialog.message}")
    dialog.dismiss()


def _resource(response: Response, errors: list[str]) -> None:
    if response.status >= 400 and response.request.resource_type in {"stylesheet", "script", "image", "font"}:
        errors.append(f"{response.status} {response.url}")


@pytest.fixture
def browser_page(open_tab: Callable[[], Page]) -> Page:
    return open_tab()


KEYS = TEXTS.keys()
KEY_PREFIXES = sorted({key.split(".")[0] for key in KEYS})
RAW_KEY = re.compile(r"\b(?:" + "|".join(KEY_PREFIXES) + r")\.[a-z0-9_.]*[a-z0-9_]\b")


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, img')]
  .filter((e) => e.tagName === 'IMG' ? !e.hasAttribute('alt')
                                     : !e.labels.length && !e.getAttribute('aria-label'))
  .map((e) => e.outerHTML.slice(0, 120))"""


def assert_accessible(page: Page) -> None:
    """Every form control has a label and every image an alt text; the page language is set."""
    assert page.evaluate(UNLABELLED) == [], f"unlabelled controls on {page.url}"
    assert page.locator("html").get_attribute("lang") in {"zh-CN", "en"}


def assert_translated(page: Page) -> None:
    """No translation key shows through as raw text (a key missing from the table)."""
    text = page.locator("body").inner_text()
    assert RAW_KEY.findall(text) == [], f"untranslated keys on {page.url}"


AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"  # axe-core 4.14.1, MPL-2.0 (npm)
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' -- ' +
         v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '));
}"""


def assert_axe_clean(page: Page) -> None:
    """axe-core finds no serious or critical accessibility violation on the page as it is now.

    Evaluated through the DevTools protocol, so the page's strict CSP (no inline script) stays on."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    problems = page.evaluate(AXE_RUN)
    assert problems == [], f"axe on {page.url}: {problems}"


@lru_cache(maxsize=1)
def _axe_source() -> str:
    return AXE.read_text()


# a table cell or a control whose right edge is off the screen (a phone cannot reach it)
CUT_OFF = """() => [...document.querySelectorAll('main :is(td, th, input, button, select, a, img, svg, li)')]
  .filter((c) => c.getClientRects().length && c.getBoundingClientRect().right > window.innerWidth + 1
                 && getComputedStyle(c).visibility !== 'hidden' && !c.closest('thead'))
  .map((c) => (c.textContent.trim() || c.outerHTML).slice(0, 60))"""


def shoot(page: Page, name: str, *, phone: bool = False) -> Path:
    """Save a full-page screenshot under test-artifacts/portal/ (at phone width if asked), after
    checking the page: no raw translation key, every control labelled, axe-core clean, no sideways
    scrolling, no table cell cut off at the right, no character without a font."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert_translated(page)
    assert_accessible(page)
    path = ARTIFACTS / f"{name}.png"
    if phone:
        page.set_viewport_size(PHONE)
    try:
        assert_axe_clean(page)
        page.screenshot(path=str(path), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        cut = page.evaluate(CUT_OFF)
    finally:
        if phone:
            page.set_viewport_size(DESKTOP)
    assert overflow <= 1, f"{name}: the page is {overflow}px wider than the screen (sideways scrolling)"
    assert cut == [], f"{name}: table cells cut off at the right edge: {cut[:5]}"
    missing = sorted(ch for ch in set(page.inner_text("body")) if not ch.isspace() and not _has_glyph(ch))
    assert not missing, f"{name}: no installed font has {missing!r} (the browser would draw tofu boxes)"
    return path


def set_language(page: Page, lang: str, url: str | None = None) -> None:
    """Switch the portal's language the way the header's link does (its cookie), then open ``url``
    (or reload the page shown)."""
    host = urlsplit(url or page.url).hostname or "127.0.0.1"
    page.context.add_cookies([{"name": "portal_lang", "value": lang, "domain": host, "path": "/"}])
    if url is None:
        page.reload()  # (a goto to the same address with a #fragment would not load it again)
    else:
        page.goto(url)


def shoot_all(page: Page, name: str) -> list[Path]:
    """The page as it is now in both languages, at desktop and phone width (then back in Chinese)."""
    paths = []
    for lang in ("zh", "en"):
        set_language(page, lang)
        expect_lang = "zh-CN" if lang == "zh" else "en"
        assert page.locator("html").get_attribute("lang") == expect_lang
        paths.append(shoot(page, f"{name}-{lang}-desktop"))
        paths.append(shoot(page, f"{name}-{lang}-phone", phone=True))
    set_language(page, "zh")
    return paths


@lru_cache(maxsize=4096)
def _has_glyph(ch: str) -> bool:
    """Whether the portal's font (Noto Sans CJK SC, as portal.css asks) or the fallback has ``ch``."""
    from PySide6.QtGui import QFont, QFontMetrics
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        _keep.append(QApplication([]))  # fonts need an application object (offscreen); pytest-qt reuses it
    fonts = ("Noto Sans CJK SC", "DejaVu Sans")
    return any(QFontMetrics(QFont(family)).inFontUcs4(ord(ch)) for family in fonts)


_keep: list[object] = []


def browser_login(page: Page, base_url: str, creds: Credentials) -> None:
    page.goto(base_url + "/portal/login")
    page.get_by_label("用户名").fill(creds.username)
    page.get_by_label("密码").fill(creds.password)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()


# ---- one live server per browser test module, and what devices and users do to it -------------


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server (uvicorn subprocess) for one module's browser tests, with an operator and the
    kiosks' service categories as the demo seeds them; tests make their own accounts and screens."""
    import datetime as dt

    from content_server.core.db import make_engine, make_sessionmaker
    from signage_demo.kiosk_catalogue import seed_demo_catalogue

    server = LiveServer(data_dir=tmp_path_factory.mktemp("portal-server"), port=free_port())
    server.create_operator()
    server.start()  # waits for /health; a shared machine can take minutes to start it
    engine = make_engine(f"sqlite:///{server.data_dir / 'signage.db'}")
    with make_sessionmaker(engine)() as session:
        seed_demo_catalogue(session, dt.datetime.now(dt.UTC), days=2)
    engine.dispose()
    yield server
    server.stop()


def heartbeat(server: LiveServer, device: PairedDevice, **fields: Any) -> dict[str, Any]:
    """What a screen reports every half minute (the server's reply)."""
    import datetime as dt

    body = {"sent_at": dt.datetime.now(dt.UTC).isoformat(), "player_version": "test-1", **fields}
    r = httpx.post(server.api + "/device/heartbeat", json=body, headers=device.headers)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def png_of(colour: tuple[int, int, int], size: tuple[int, int] = (480, 270)) -> bytes:
    """A real PNG of one colour (a screen's screenshot)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()
