"""The portal's shared shell: Jinja2 environment, static files, navigation, HTML error pages.

``install(app)`` mounts the shell; each feature then adds its pages with
``add_pages(app, router, templates=..., nav=...)``: its router (mounted under ``/portal``), the
folder of its templates, and the links it puts in the top navigation for each role. The shell
knows no feature: it only collects what the features hand it (one explicit call each in
``content_server/app.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from content_server.core import security as core_security
from content_server.core.errors import ServerError
from content_server.core.settings import Settings
from content_server.portal.i18n import Translator
from content_server.portal.page import (
    PORTAL_PREFIX,
    LoginRequired,
    Page,
    PortalError,
    field_names,
    problem_text,
    translator,
)
from content_server.portal.security import safe_next

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"


@dataclass(frozen=True)
class NavLink:
    """One entry of the top navigation, shown to users of ``role``; ``section`` marks it current."""

    role: str
    section: str
    text_key: str
    href: str
    css_class: str = ""


@dataclass
class Portal:
    """What the shell holds for the pages: the template environment and the navigation."""

    env: Environment
    nav: list[NavLink] = field(default_factory=list)

    def nav_for(self, role: str | None) -> list[NavLink]:
        return [link for link in self.nav if link.role == role]


def _static_versions() -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in STATIC_DIR.iterdir() if p.is_file()
    }


def make_environment(
    strict: bool = False, template_dirs: Iterable[Path] = (), tz: dt.tzinfo = dt.UTC
) -> Environment:
    """The portal's Jinja2 environment: autoescaping always on, unknown variables are errors.

    Templates are looked up in the shell's folder first (``base.html``, ``macros.html``), then in
    each feature's folder in the order the features were added.
    """
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(TEMPLATE_DIR), *(FileSystemLoader(d) for d in template_dirs)]),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = _static_versions()
    env.globals["static"] = lambda name: f"{PORTAL_PREFIX}/static/{name}?v={versions.get(name, '0')}"
    env.globals["strict_i18n"] = strict
    env.filters["local"] = lambda value, fmt="%Y-%m-%d %H:%M": local_time(value, tz, fmt)
    env.filters["filesize"] = file_size
    return env


def file_size(size: int) -> str:
    """Bytes as people read them (KB below a megabyte)."""
    if size < 1024 * 1024:
        return f"{max(size / 1024, 0.1):.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def local_time(value: dt.datetime | None, tz: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as the community's wall-clock time (what staff and merchants expect)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).strftime(fmt)


def install(app: FastAPI, *, strict_i18n: bool = False) -> None:
    """Mount the shell: static files, the ``/`` redirect, HTML error pages for ``/portal`` paths.

    Call after the JSON API's error handlers are installed: for other paths those still answer.
    """
    settings: Settings = app.state.settings
    app.state.portal = Portal(make_environment(strict_i18n, tz=settings.community_tz))
    app.mount(f"{PORTAL_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="portal-static")
    app.add_api_route("/", lambda: RedirectResponse(f"{PORTAL_PREFIX}/"), include_in_schema=False)
    _install_handlers(app)


def add_pages(app: FastAPI, router: APIRouter, *, templates: Path, nav: Iterable[NavLink] = ()) -> None:
    """A feature's pages: its router under ``/portal``, its templates, its navigation links."""
    portal: Portal = app.state.portal
    loader = portal.env.loader
    assert isinstance(loader, ChoiceLoader)
    loader.loaders = [*loader.loaders, FileSystemLoader(templates)]
    portal.nav.extend(nav)
    app.include_router(router, prefix=PORTAL_PREFIX, include_in_schema=False)


def _is_portal(request: Request) -> bool:
    return request.url.path == PORTAL_PREFIX or request.url.path.startswith(PORTAL_PREFIX + "/")


def _error_page(request: Request, status_code: int, key: str, message: str = "") -> Response:
    lang, t = translator(request)
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(core_security.CSRF_COOKIE)
    page = Page(request, settings, lang, t, None, cookie or core_security.new_csrf_cookie(), cookie is None)
    wants_json = "application/json" in request.headers.get("accept", "") or request.headers.get(
        "x-csrf-token"
    )
    if wants_json:
        return page.json({"detail": message or t(key)}, status_code)
    title = {401: "error.title_401", 403: "error.title_403", 404: "error.title_404"}.get(
        status_code, "error.title"
    )
    return page.render("error.html", {"message": message or t(key)}, title_key=title, status_code=status_code)


def _install_handlers(app: FastAPI) -> None:
    """HTML error pages for /portal paths; the API keeps its JSON handlers."""
    Handler = Callable[[Request, Any], Awaitable[Response]]
    previous: dict[Any, Handler] = dict(app.exception_handlers)

    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("hx-request"):  # a part refreshing itself: the whole page goes to log-in
            shown = urlsplit(request.headers.get("hx-current-url", ""))
            back = safe_next(shown.path + (f"?{shown.query}" if shown.query else ""))
            login = f"{PORTAL_PREFIX}/login?next={quote(back)}"
            return Response(status_code=200, headers={"HX-Redirect": login})
        return RedirectResponse(f"{PORTAL_PREFIX}/login?next={quote(exc.next_path)}", status_code=303)

    def wrap(kind: type[Exception]) -> Handler:
        async def handler(request: Request, exc: Any) -> Response:
            if not _is_portal(request):
                return await previous[kind](request, exc)
            _, t = translator(request)
            if isinstance(exc, PortalError):
                return _error_page(request, exc.status_code, exc.key)
            if isinstance(exc, ServerError):
                key = {404: "error.not_found", 403: "error.forbidden"}.get(exc.status_code)
                if key:
                    return _error_page(request, exc.status_code, key)
                return _error_page(request, exc.status_code, "error.title", _refusal(request, exc))
            if isinstance(exc, RequestValidationError):
                return _error_page(request, 422, "error.invalid_form", _describe(exc, t))
            if isinstance(exc, StarletteHTTPException):
                return _error_page(
                    request, exc.status_code, "error.not_found" if exc.status_code == 404 else "error.title"
                )
            return _error_page(request, 500, "error.internal")

        return handler

    app.add_exception_handler(LoginRequired, login_required)  # type: ignore[arg-type]
    for kind in (ServerError, RequestValidationError, StarletteHTTPException):
        if kind in previous:
            app.add_exception_handler(kind, wrap(kind))


def _refusal(request: Request, exc: ServerError) -> str:
    """A service's refusal in the reader's language (``problem_text`` needs only the language)."""
    lang, t = translator(request)
    settings: Settings = request.app.state.settings
    page = Page(request, settings, lang, t, None, "", False)
    return problem_text(page, exc)


def _describe(exc: RequestValidationError, t: Translator) -> str:
    fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()})
    return t("error.fields", fields=field_names(t, fields))
