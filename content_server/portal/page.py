"""What every portal page of every feature uses: :class:`Page` (language, user, CSRF, rendering
with security headers) and the dependencies that give one to a page handler by role.

A feature's ``pages.py`` declares ``page: OperatorPage`` (or another role) and calls
``page.render("its_template.html", {...}, title_key=...)``; the shell (``portal/shell.py``)
finds the template in the feature's ``templates/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from content_server.core import auth
from content_server.core import security as core_security
from content_server.core.audit.services import Actor, act_as
from content_server.core.db import release_connection
from content_server.core.deps import SESSION_COOKIE, NowDep, SessionDep, SettingsDep, client_address
from content_server.core.errors import ServerError
from content_server.core.models import User
from content_server.core.settings import Settings
from content_server.portal import problems, security
from content_server.portal.forms import FormError
from content_server.portal.i18n import TEXTS, Translator, pick_language

log = logging.getLogger(__name__)

PORTAL_PREFIX = "/portal"
R = TypeVar("R", bound=Response)
Csrf = Annotated[str, Form(max_length=128)]  # the CSRF token every form posts


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
    def tz(self) -> dt.tzinfo:
        """The community's wall clock: staff type and read local dates and times in it."""
        return self.settings.community_tz

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
        html = self.render_text(template, context, title_key=title_key)
        return self.finish(HTMLResponse(html, status_code=status_code))

    def render_text(
        self, template: str, context: Mapping[str, Any] | None = None, *, title_key: str = "app.name"
    ) -> str:
        """A template as text with everything a page's templates may use (a whole page, or a
        fragment a page's script swaps in)."""
        portal = self.request.app.state.portal
        notice = self.request.query_params.get("notice")
        values: dict[str, Any] = {
            "t": self.t,
            "lang": self.lang,
            "user": self.user,
            "nav": portal.nav_for(self.user.role if self.user else None),
            "csrf_token": self.csrf_token,
            "path": self.request.url.path,
            "title_key": title_key,
            "section": "",
            "notice": notice if notice and f"notice.{notice}" in TEXTS else None,
        }
        values.update(context or {})
        html: str = portal.env.get_template(template).render(values)
        return html

    def live_block(self, template: str, context: Mapping[str, Any], *, url: str, every_s: int = 5) -> Markup:
        """A part of a page that refreshes itself: ``template`` rendered inside a wrapper that asks
        ``url`` again every ``every_s`` seconds (htmx), sending the version it shows."""
        inner = self.render_text(template, context)
        version = hashlib.sha256(inner.encode()).hexdigest()[:16]
        values = {"live_url": url, "live_version": version, "live_inner": Markup(inner), "every_s": every_s}
        wrapper = self.render_text("live.html", values)
        return Markup(wrapper)

    def live(self, template: str, context: Mapping[str, Any], *, url: str, known: str | None) -> Response:
        """The poll of a :meth:`live_block`: 204 while it is unchanged (htmx then keeps what it
        shows), else the block anew."""
        block = self.live_block(template, context, url=url)
        if known is not None and f'data-version="{known}"' in block:
            return self.finish(Response(status_code=204))
        return self.finish(HTMLResponse(block))

    def redirect(self, url: str, notice: str | None = None) -> RedirectResponse:
        """303 to ``url`` with a notice to show there (the query goes before any ``#fragment``)."""
        if notice:
            path, hash_, fragment = url.partition("#")
            url = path + ("&" if "?" in path else "?") + f"notice={quote(notice)}" + hash_ + fragment
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


def translator(request: Request) -> tuple[str, Translator]:
    """The request's language (cookie, Chinese by default) and its translator."""
    lang = pick_language(request.cookies.get(security.LANG_COOKIE))
    strict: bool = request.app.state.portal.env.globals.get("strict_i18n", False)
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
    lang, t = translator(request)
    cookie = request.cookies.get(core_security.CSRF_COOKIE)
    user = _current(request, session, now)
    if user is not None:
        act_as(session, Actor.of_user(user, client_address(request)))  # what this page changes is theirs
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
CampaignsPage = MediaPage  # advertisers see their own campaigns, operators everyone's




def field_names(t: Translator, names: Iterable[str]) -> str:
    """Form fields as the reader knows them (``"名称、开始日期"``), never their codes."""
    known = [t(problems.FIELD_LABELS[n]) for n in names if n in problems.FIELD_LABELS]
    return ("、" if t.lang == "zh" else ", ").join(dict.fromkeys(known)) or t("error.some_fields")


def problem_text(page: Page, exc: Exception) -> str:
    """What went wrong, in the page reader's language (:func:`refusal_text`)."""
    return refusal_text(page.t, exc)


def refusal_text(t: Translator, exc: Exception) -> str:
    """What went wrong, in ``t``'s language: form errors by key, the services' English messages
    through :mod:`content_server.portal.problems`, a model's errors by field name."""
    if isinstance(exc, FormError):
        params = dict(exc.params)
        if "field" in params:  # a field's code becomes its label
            params["field"] = field_names(t, [str(params["field"])])
        return t(exc.key, **params)
    if isinstance(exc, ValidationError):
        texts = []
        for e in exc.errors():
            found = problems.match(str(e.get("msg", ""))) if e.get("type") == "value_error" else None
            if found is not None:
                texts.append(_problem(t, *found))
            else:
                texts.append(t("error.fields", fields=field_names(t, [str(x) for x in e["loc"]])))
        return "; ".join(dict.fromkeys(texts))
    if isinstance(exc, ServerError) and exc.texts and exc.texts.get(t.lang):
        return exc.texts[t.lang]  # the service wrote it for people, in both languages
    found = problems.match(str(exc))
    if found is None:
        log.warning("portal: no translation for the refusal %r", str(exc))
        return str(exc) if t.lang == "en" else t(problems.GENERIC)
    return _problem(t, *found)


def _problem(t: Translator, key: str, values: dict[str, str]) -> str:
    named = {}
    for name, value in values.items():
        table = next((f"{p}{value}" for p in problems.VALUE_TABLES if f"{p}{value}" in TEXTS), None)
        named[name] = t(table) if table else value
    return t(key, **named)
