"""Portal pages of accounts: log-in, log-out, sign-up, language switch, each role's home page,
and the operator's approval of an account (listed on the approvals page)."""

from __future__ import annotations

import datetime as dt
import logging
import math
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from content_server.accounts import rules, services
from content_server.core import auth
from content_server.core.deps import (
    KNOWN_DEVICE_COOKIE,
    SESSION_COOKIE,
    NowDep,
    SessionDep,
    client_address,
    set_known_device,
)
from content_server.core.errors import ServerError
from content_server.portal import security
from content_server.portal.i18n import pick_language
from content_server.portal.page import PORTAL_PREFIX, AnyPage, Csrf, LoggedIn, OperatorPage, problem_text

TEMPLATES = Path(__file__).resolve().parent / "templates"

log = logging.getLogger(__name__)
router = APIRouter()

HOME_BY_ROLE = {
    "advertiser": "/portal/campaigns",
    "operator": "/portal/approvals",
    "clerk": "/portal/cases",
    "provider": "/portal/bookings",
}


@router.get("/")
def home(page: LoggedIn) -> Response:
    assert page.user is not None
    return page.redirect(HOME_BY_ROLE[page.user.role])


@router.get("/lang/{code}")
def switch_language(page: AnyPage, code: str, next: str = "/portal/") -> Response:
    """Remember the chosen language in a cookie and go back where the user was."""
    response = page.redirect(security.safe_next(next))
    response.set_cookie(
        security.LANG_COOKIE,
        pick_language(code),
        max_age=365 * 86400,
        httponly=True,
        secure=page.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return response


@router.get("/login")
def login_form(page: AnyPage, next: str = "/portal/") -> Response:
    return page.render(
        "login.html",
        {"next": security.safe_next(next), "username": "", "form_errors": []},
        title_key="login.title",
    )


@router.post("/login")
def login(
    page: AnyPage,
    request: Request,
    session: SessionDep,
    now: NowDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/portal/",
) -> Response:
    """Check the password (unless its counters say wait: 429) and start a session."""
    page.require_csrf(csrf_token)
    lifetime = dt.timedelta(hours=page.settings.session_hours)
    try:
        done = services.log_in(
            session,
            request.app.state.login_guard,
            username=username,
            password=password,
            source=client_address(request),
            device_cookie=request.cookies.get(KNOWN_DEVICE_COOKIE),
            now=now,
            kind="session",
            lifetime=lifetime,
            replacing=request.cookies.get(SESSION_COOKIE),
        )
    except auth.RateLimited as exc:
        wait = max(1, math.ceil(exc.retry_after_s))
        context = {"next": security.safe_next(next), "username": username,
                   "form_errors": [page.t("login.rate_limited", seconds=wait)]}  # fmt: skip
        response = page.render("login.html", context, title_key="login.title", status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    except auth.AuthError:
        failed = page.t("login.failed")
        context = {"next": security.safe_next(next), "username": username, "form_errors": [failed]}
        return page.render("login.html", context, title_key="login.title", status_code=401)
    log.info("portal log-in: %s (%s)", done.user.username, done.user.role)
    redirect = page.redirect(security.safe_next(next))
    redirect.set_cookie(
        SESSION_COOKIE,
        done.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=page.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    set_known_device(redirect, done.known_device, secure=page.settings.secure_cookies)
    return redirect


@router.post("/logout")
def logout(
    page: AnyPage,
    request: Request,
    session: SessionDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    page.require_csrf(csrf_token)
    services.log_out(session, request.cookies.get(SESSION_COOKIE))
    response = page.redirect(f"{PORTAL_PREFIX}/login", notice="logged_out")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/signup")
def signup_form(page: AnyPage) -> Response:
    context = {"done": False, "form_errors": [], "role": "advertiser", "display_name": "", "username": ""}
    return page.render("signup.html", context, title_key="signup.title")


@router.post("/signup")
def signup(
    page: AnyPage,
    session: SessionDep,
    now: NowDep,
    role: Annotated[str, Form(max_length=16)],
    display_name: Annotated[str, Form(max_length=200)],
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Merchants and service providers sign themselves up; an operator approves them. Usernames and
    passwords are judged by the account service's one rule, as for the API's sign-up."""
    page.require_csrf(csrf_token)
    errors: list[str] = []
    if role not in auth.SELF_SIGNUP_ROLES:
        errors.append(page.t("signup.bad_role"))
    if not display_name.strip():
        errors.append(page.t("signup.need_name"))
    if not errors:
        try:
            services.create_user(
                session,
                username=username,
                password=password,
                role=role,
                now=now,
                display_name=display_name.strip(),
                approved=False,
            )
        except (services.AccountExists, rules.RuleBroken) as exc:
            errors.append(rules.TEXTS.text(exc.problem, page.lang))
        except ServerError as exc:
            errors.append(problem_text(page, exc))
    if errors:
        context = {
            "done": False,
            "form_errors": errors,
            "role": role,
            "display_name": display_name,
            "username": username,
        }
        return page.render("signup.html", context, title_key="signup.title", status_code=422)
    return page.render("signup.html", {"done": True}, title_key="signup.title")


@router.post("/approvals/accounts/{user_id}/approve")
def approve_account(page: OperatorPage, session: SessionDep, user_id: str, csrf_token: Csrf = "") -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    services.set_approved(session, user_id, True, by=page.user)
    return page.redirect("/portal/approvals", notice="account_approved")
