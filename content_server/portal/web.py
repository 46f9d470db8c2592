"""Portal plumbing: Jinja2 environment, page rendering with security headers and CSRF,
the logged-in user dependency, and HTML error pages for ``/portal`` paths.

:func:`register` wires it all into the app (one line in ``content_server/app.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from content_server.core import auth
from content_server.core import security as core_security
from content_server.core.db import release_connection
from content_server.core.deps import SESSION_COOKIE, NowDep, SessionDep, SettingsDep
from content_server.core.errors import ServerError
from content_server.core.settings import Settings
from content_server.models import User
from content_server.portal import security
from content_server.portal.forms import COMMUNITY_TZ
from content_server.portal.i18n import MESSAGES, Translator, pick_language

log = logging.getLogger(__name__)

PORTAL_PREFIX = "/portal"
HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
R = TypeVar("R", bound=Response)


class LoginRequired(Exception):
    """Raised by the user dependency; answered with a redirect to the log-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PortalError(ServerError):
    """A refusal shown as a page: ``key`` names the message in the translation table."""

    def __init__(self, key: str, status_code: int = 400) -> None:
        super().__init__(key)
        self.key = key
        self.status_code = status_code


def _static_versions() -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in STATIC_DIR.iterdir() if p.is_file()
    }


def make_environment(strict: bool = False) -> Environment:
    """The portal's Jinja2 environment: autoescaping always on, unknown variables are errors."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = _static_versions()
    env.globals["static"] = lambda name: f"{PORTAL_PREFIX}/static/{name}?v={versions.get(name, '0')}"
    env.globals["strict_i18n"] = strict
    env.filters["local"] = local_time
    env.filters["filesize"] = file_size
    return env


def file_size(size: int) -> str:
    """Bytes as people read them (KB below a megabyte)."""
    if size < 1024 * 1024:
        return f"{max(size / 1024, 0.1):.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def local_time(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time as the community's wall-clock time (what staff and merchants expect)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(COMMUNITY_TZ).strftime(fmt)


@dataclass
class Page:
    """What every page needs about the request: language, user, CSRF state."""

    request: Request
    settings: Settings
    lang: str
    t: Translator
    user: User | None
    csrf_cookie: str
    csrf_cookie_is_new: bool

    @property
    def session_token(self) -> str | None:
        return self.request.cookies.get(SESSION_COOKIE)

    @property
    def csrf_token(self) -> str:
        return core_security.csrf_token(self.settings.secret_key, self.csrf_cookie, self.session_token)

    def render(
        self,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        title_key: str,
        status_code: int = 200,
    ) -> HTMLResponse:
        env: Environment = self.request.app.state.portal_env
        notice = self.request.query_params.get("notice")
        values: dict[str, Any] = {
            "t": self.t,
            "lang": self.lang,
            "user": self.user,
            "csrf_token": self.csrf_token,
            "path": self.request.url.path,
            "title_key": title_key,
            "section": "",
            "notice": notice if notice and f"notice.{notice}" in MESSAGES else None,
        }
        values.update(context or {})
        html = env.get_template(template).render(values)
        return self.finish(HTMLResponse(html, status_code=status_code))

    def redirect(self, url: str, notice: str | None = None) -> RedirectResponse:
        if notice:
            url += ("&" if "?" in url else "?") + f"notice={quote(notice)}"
        return self.finish(RedirectResponse(url, status_code=303))

    def json(self, body: Mapping[str, Any], status_code: int = 200) -> JSONResponse:
        return self.finish(JSONResponse(dict(body), status_code=status_code))

    def finish(self, response: R) -> R:
        """Security headers on every portal response; the CSRF cookie on first contact."""
        for name, value in security.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if self.csrf_cookie_is_new:
            response.set_cookie(
                core_security.CSRF_COOKIE,
                self.csrf_cookie,
                httponly=True,
                secure=self.settings.secure_cookies,
                samesite="strict",
                path="/",  # the pages' scripts also write through /api/v1 (uploads) with it
            )
        return response

    def require_csrf(self, submitted: str | None) -> None:
        """Refuse a state-changing request whose token was not made for this browser and session."""
        cookie = None if self.csrf_cookie_is_new else self.csrf_cookie
        if not core_security.csrf_valid(self.settings.secret_key, cookie, self.session_token, submitted):
            log.warning("portal: CSRF check failed on %s", self.request.url.path)
            raise PortalError("error.csrf", 403)


def _translator(request: Request) -> tuple[str, Translator]:
    lang = pick_language(request.cookies.get(security.LANG_COOKIE))
    strict: bool = request.app.state.portal_env.globals.get("strict_i18n", False)
    return lang, Translator(lang, strict)


def _current(request: Request, session: Any, now: dt.datetime) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return auth.user_for_token(session, token, now)
    except auth.AuthError:
        return None


def page_anonymous(request: Request, settings: SettingsDep, session: SessionDep, now: NowDep) -> Page:
    """A page anyone may open (log-in, sign-up); knows the user if there is one."""
    lang, t = _translator(request)
    cookie = request.cookies.get(core_security.CSRF_COOKIE)
    user = _current(request, session, now)
    release_connection(session)  # not held while the page handler waits for a thread
    return Page(
        request,
        settings,
        lang,
        t,
        user,
        cookie or core_security.new_csrf_cookie(),
        cookie is None,
    )


AnyPage = Annotated[Page, Depends(page_anonymous)]


def _logged_in(page: AnyPage) -> Page:
    if page.user is None:
        path = page.request.url.path
        if page.request.url.query:
            path += "?" + page.request.url.query
        raise LoginRequired(path)
    if not page.user.approved:
        raise PortalError("error.awaiting_approval", 403)
    return page


def require_role(*roles: str) -> Callable[[Page], Page]:
    """Dependency factory: a logged-in, approved user holding one of ``roles``."""

    def dependency(page: Annotated[Page, Depends(_logged_in)]) -> Page:
        assert page.user is not None
        if page.user.role not in roles:
            raise PortalError("error.forbidden", 403)
        return page

    return dependency


LoggedIn = Annotated[Page, Depends(_logged_in)]
AdvertiserPage = Annotated[Page, Depends(require_role("advertiser"))]
OperatorPage = Annotated[Page, Depends(require_role("operator"))]
ClerkPage = Annotated[Page, Depends(require_role("clerk"))]
ProviderPage = Annotated[Page, Depends(require_role("provider"))]
MediaPage = Annotated[Page, Depends(require_role("advertiser", "operator"))]


def _is_portal(request: Request) -> bool:
    return request.url.path == PORTAL_PREFIX or request.url.path.startswith(PORTAL_PREFIX + "/")


def _error_page(request: Request, status_code: int, key: str, message: str = "") -> Response:
    lang, t = _translator(request)
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
        return RedirectResponse(f"{PORTAL_PREFIX}/login?next={quote(exc.next_path)}", status_code=303)

    def wrap(kind: type[Exception]) -> Handler:
        async def handler(request: Request, exc: Any) -> Response:
            if not _is_portal(request):
                return await previous[kind](request, exc)
            _, t = _translator(request)
            if isinstance(exc, PortalError):
                return _error_page(request, exc.status_code, exc.key)
            if isinstance(exc, ServerError):
                key = {404: "error.not_found", 403: "error.forbidden"}.get(exc.status_code)
                return _error_page(request, exc.status_code, key or "error.title", "" if key else str(exc))
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


def _describe(exc: RequestValidationError, t: Translator) -> str:
    fields = sorted({str(e.get("loc", ("", ""))[-1]) for e in exc.errors()})
    return t("error.fields", fields=", ".join(fields))


def register(app: FastAPI, *, strict_i18n: bool = False) -> None:
    """Mount the portal: static files, pages, HTML error handling."""
    from content_server.portal.routes import router

    app.state.portal_env = make_environment(strict_i18n)
    app.mount(f"{PORTAL_PREFIX}/static", StaticFiles(directory=STATIC_DIR), name="portal-static")
    app.include_router(router)
    app.add_api_route("/", lambda: RedirectResponse(f"{PORTAL_PREFIX}/"), include_in_schema=False)
    _install_handlers(app)
